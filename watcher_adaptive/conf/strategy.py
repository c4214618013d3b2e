"""Options of the ``adaptive_migration`` Watcher strategy.

Watcher registers a strategy's options under
``[watcher_strategies.adaptive_migration]`` from its
``get_config_opts()``; the strategy returns :data:`OPTS` from here, so
each option is declared once, and :mod:`.opts` lists the same objects
for ``oslo-config-generator``.
"""
from __future__ import annotations

from oslo_config import cfg

GROUP = "watcher_strategies.adaptive_migration"

OPTS = [
    cfg.StrOpt("model_path",
               default="",
               help="Saved predictor (the path given to `watcher-adaptive "
                    "backtest --save-model`, without suffix). Empty, "
                    "missing or not matching the audit's horizon: the "
                    "strategy forecasts with its online forecasters (the "
                    "audit's 'forecaster'; their state is kept beside "
                    "journal_path), logging why when a model was set."),
    cfg.FloatOpt("max_profile_shift",
                 default=0.15, min=0.0, max=1.0,
                 help="The most a VM's behaviour profile (reported by its "
                      "guest, which may lie) may move its forecast "
                      "quantiles, as a share of the VM's size, against the "
                      "forecast from the hypervisor's own measurements "
                      "alone; a VM whose profile moves it further is "
                      "planned on the profile-less forecast (logged). 1.0 "
                      "turns the check off."),
    cfg.FloatOpt("gnocchi_timeout_s",
                 default=60.0, min=1.0, max=3600.0,
                 help="Seconds one Gnocchi request of an audit may take; "
                      "after the retries the audit fails with a clear "
                      "error instead of waiting on a Gnocchi that stopped "
                      "answering."),
    cfg.FloatOpt("min_usage_coverage",
                 default=0.8, min=0.0, max=1.0,
                 help="Share of the audit's instances the datasource must "
                      "have recent usage for.  Below it the answer is taken "
                      "as partial (an exporter or a Ceilometer agent "
                      "down): the next datasource in the list is tried, "
                      "and with none complete the audit fails with that "
                      "reason and migrates nothing. Above it, an instance "
                      "without usage (just booted) is counted at its full "
                      "size and not moved."),
    cfg.FloatOpt("prometheus_timeout_s",
                 default=60.0, min=1.0, max=3600.0,
                 help="Seconds one Prometheus (or Aetos) query of an audit "
                      "may take; a datasource that does not answer in time "
                      "is skipped for the next one in the datasources "
                      "list."),
    cfg.BoolOpt("prometheus_incremental",
                default=True,
                help="Keep the last usage window read from Prometheus (or "
                     "Aetos) in the decision engine's memory and ask, at "
                     "the next audit, only for the grid points after it "
                     "(plus prometheus_reread_s); instances not seen before "
                     "are read over the whole window. Off: every audit "
                     "reads its whole window."),
    cfg.IntOpt("prometheus_reread_s",
               default=900, min=0, max=86400,
               help="Seconds at the end of the remembered Prometheus "
                    "window that are read again (samples written late, "
                    "e.g. a remote write retried); a sample written later "
                    "than that after its time is not seen."),
    cfg.IntOpt("prometheus_matcher_max",
               default=2000, min=0, max=100000,
               help="The most instances one Prometheus query selects by "
                    "their uuids (a set matcher); an audit of more reads "
                    "each metric for every instance Prometheus holds and "
                    "keeps its own. Prometheus's cost of the matcher grows "
                    "faster than its length (measured: 1,000 uuids 0.08 s, "
                    "10,000 about 1 s before any sample is read), the "
                    "whole metric's with the instances it holds."),
    cfg.IntOpt("gnocchi_chunk_size",
               default=500, min=1, max=5000,
               help="Instances per aggregates request to Gnocchi; one "
                    "audit makes about (instances / chunk) requests per "
                    "metric."),
    cfg.IntOpt("gnocchi_parallel",
               default=4, min=1, max=32,
               help="Aggregates requests (of gnocchi_chunk_size instances "
                    "each) an audit keeps in flight to Gnocchi. Gnocchi's "
                    "API spends its time per metric read, so more than its "
                    "API workers gains nothing."),
    cfg.BoolOpt("gnocchi_incremental",
                default=True,
                help="Keep the last usage window read from Gnocchi in the "
                     "decision engine's memory and ask Gnocchi, at the next "
                     "audit, only for the points after it (plus "
                     "gnocchi_reread_s): several times less work for "
                     "Gnocchi and the decision engine at thousands of "
                     "instances. Off: every audit reads its whole window."),
    cfg.IntOpt("gnocchi_reread_s",
               default=900, min=0, max=86400,
               help="Seconds at the end of the remembered window that are "
                    "read again (measures gnocchi-metricd had not yet "
                    "processed at the last audit); a measure processed "
                    "later than that after its time is not seen."),
    cfg.StrOpt("resource_type",
               default="instance",
               help="Gnocchi resource type of Nova instances (Ceilometer's "
                    "default)."),
    cfg.StrOpt("journal_path",
               default="$state_path/adaptive_migration_moves.json",
               help="Where the strategy remembers when it last moved each "
                    "instance, for the cooldown and the hourly budget "
                    "across audits."),
    cfg.StrOpt("action_type",
               default="adaptive_migrate",
               choices=[
                   ("migrate", "Watcher's own live migrate action"),
                   ("adaptive_migrate",
                    "watcher-adaptive's action: the destination agent "
                    "gets the forecast and the expected hot working set "
                    "before Nova migrates (needs the adaptive_migrate "
                    "action in the applier's weights)")],
               help="Which action each planned move becomes: our own "
                    "adaptive_migrate (the default, as the DevStack "
                    "plugin sets it up), or Watcher's migrate for a "
                    "cloud without the destination agent."),
    cfg.StrOpt("hotset_model_path",
               default="",
               help="Saved hot-set predictor (joblib of a fitted "
                    "watcher_adaptive.core.hotset.HotSetPredictor) for the "
                    "adaptive_migrate hint. Empty or unusable: the "
                    "instance's last measured hot share from its "
                    "migration history, else its profile-class default."),
    cfg.StrOpt("vm_type_metadata_key",
               default="adaptive_vm_type",
               help="Instance metadata key naming the profile class "
                    "(idle, web, batch, db, cache or your own) sent in "
                    "the hint and used for the class default."),
    cfg.BoolOpt("allow_pinned_moves",
                default=False,
                help="Let the strategy move instances of CPU-pinned flavors "
                     "(hw:cpu_policy=dedicated) when the target has that "
                     "many free physical cores; otherwise they never move."),
]


def list_opts() -> list[tuple[str, list[cfg.Opt]]]:
    return [(GROUP, OPTS)]
