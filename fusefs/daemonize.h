// Daemonize: detach from the terminal the way the daemon needs it.
//
// fuse_daemonize() forks after the mount, which would lose the engine's threads (they do not
// survive fork) and could not report a start-up error through the exit code. So the daemon
// forks first, before it opens anything: the parent waits until the child reports that it
// serves (exit 0) or dies (the child's exit code), and the child prints its own start-up
// errors on the still-inherited stderr.
#pragma once

namespace snapcow::fusefs {

// Forks; returns in the child only. The parent exits.
void ForkAndWait();
// In the child, once it serves: releases the parent, moves to /, drops the terminal.
void DetachFromParent();

}  // namespace snapcow::fusefs
