#!/bin/sh
# Runs the coutil tour on a fresh Debian 12 machine: installs the missing
# Debian packages (as root), builds, and runs examples/tour.lua (an echo
# server with its clients, a thread-pool job, a child process, a file and
# timers, in one process, with a summary at the end).
set -e
cd "$(dirname "$0")"
sh .ci/deps.sh
exec make demo
