"""An OpenStack service's WSGI application for gunicorn.

Keystone's and Watcher's WSGI modules parse ``sys.argv`` for their
options, which under gunicorn holds gunicorn's own arguments (they exit
on them).  This module gives them their own instead, then imports the
application:

    WA_WSGI_APP=keystone.wsgi.api:application \
    WA_WSGI_ARGV="--config-file /path/keystone.conf" \
        gunicorn ... wsgi_app:application

(watcher-api's console script dies here in oslo.service's WSGI threading
backend; Watcher's WSGI application under gunicorn serves.)
"""
import importlib
import os
import shlex
import sys

_module, _, _attr = os.environ["WA_WSGI_APP"].partition(":")
sys.argv = [_module.split(".")[0] + "-api",
            *shlex.split(os.environ.get("WA_WSGI_ARGV", ""))]
application = getattr(importlib.import_module(_module), _attr or
                      "application")
