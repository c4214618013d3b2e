"""The pure core: features, forecasters, host aggregation and metrics.

Imports only the standard library, numpy, pandas and scikit-learn, so
that it can be tested and benchmarked without OpenStack.
"""
