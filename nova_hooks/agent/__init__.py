"""The destination-host agent's adapters: the journal on disk, QEMU's
threads and second QMP monitor, libvirt's events and calls.  The
decisions are in :mod:`nova_hooks.core`."""
