# shellcheck shell=bash
# plugin.sh - DevStack entry point of watcher-adaptive: maps stack.sh's
# modes and phases onto lib/watcher-adaptive.
#
#   enable_plugin watcher-adaptive <repository> [branch]
#
# after Watcher's (and Ceilometer's, for Gnocchi) in local.conf, so that
# each phase here runs after theirs.  stack.sh sources this file with
# $1 = stack|unstack|clean and $2 = the phase.

# shellcheck source=devstack/lib/watcher-adaptive
source "$(dirname "${BASH_SOURCE[0]}")/lib/watcher-adaptive"

if watcher_adaptive_on_controller || watcher_adaptive_on_compute; then
    case "$1:${2:-}" in
    stack:install)
        echo_summary "Installing watcher-adaptive"
        install_watcher_adaptive
        ;;
    stack:post-config)
        echo_summary "Configuring watcher-adaptive"
        configure_watcher_adaptive
        ;;
    stack:extra)
        echo_summary "Starting watcher-adaptive"
        init_watcher_adaptive
        start_watcher_adaptive
        ;;
    unstack:*)
        stop_watcher_adaptive
        ;;
    clean:*)
        cleanup_watcher_adaptive
        ;;
    esac
fi
