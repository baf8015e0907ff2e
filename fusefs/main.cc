// snapcowfs: serves an image directory (origin.img + snapshots) through FUSE.
//
// The order of start-up matters: fork first (engine threads do not survive a fork), take the
// image directory (its lock and fds; MOUNTPOINT may shadow IMAGEDIR afterwards), bind the
// control socket, record the holder, mount, then report success to the waiting parent (and
// to systemd under Type=notify).
#include <fcntl.h>
#include <fmt/format.h>
#if defined(__GLIBC__)
#include <malloc.h>
#endif
#include <signal.h>
#include <sys/stat.h>
#include <sys/sysinfo.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <algorithm>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "engine/image_dir.h"
#include "fusefs/control_handler.h"
#include "fusefs/control_server.h"
#include "fusefs/daemon_log.h"
#include "fusefs/daemonize.h"
#include "fusefs/fs.h"
#include "fusefs/ops.h"
#include "fusefs/options.h"
#include "fusefs/reply_hook.h"
#include "fusefs/systemd_notify.h"
#include "fusefs/uring_transport.h"

namespace snapcow::fusefs {
namespace {

[[noreturn]] void Die(const std::string& line) {
  std::fprintf(stderr, "snapcowfs: %s\n", line.c_str());
  std::exit(1);
}

// The absolute path of an existing directory, or a one-line death.
std::string ResolveDir(const std::string& path, const char* what) {
  char buf[PATH_MAX];
  if (!realpath(path.c_str(), buf))
    Die(fmt::format("{} {}: {}", what, path, std::strerror(errno)));
  struct stat st;
  if (stat(buf, &st) != 0) Die(fmt::format("{} {}: {}", what, path, std::strerror(errno)));
  if (!S_ISDIR(st.st_mode)) Die(fmt::format("{} {} is not a directory", what, path));
  return buf;
}

void SetTerminationSignalsBlocked(bool blocked) {
  sigset_t set;
  sigemptyset(&set);
  for (int sig : {SIGTERM, SIGINT, SIGHUP, SIGQUIT}) sigaddset(&set, sig);
  pthread_sigmask(blocked ? SIG_BLOCK : SIG_UNBLOCK, &set, nullptr);
}

// What libfuse said about the last failure, or `otherwise`.
std::string FuseReason(const char* otherwise) {
  std::string why = TakeFuseError();
  return why.empty() ? otherwise : why;
}

// fsname shows the image directory in mount(8) and df(1) unless it would need escaping.
std::string FsName(const std::string& imagedir) {
  if (imagedir.find_first_of(",\\ \t\n") != std::string::npos) return "snapcowfs";
  return imagedir;
}

// Loading COW stores grows and then shrinks many small table vectors; glibc keeps the freed
// heap pages. Hand them back once start-up is done: with a store of 1 million consecutive
// exceptions the daemon's RSS goes from ~22 MiB to ~6 MiB, scattered ones ~36 to ~28 MiB
// (bench/peers, mount test).
void ReleaseLoadMemory() {
#if defined(__GLIBC__)
  malloc_trim(0);
#endif
}

int Run(const Options& opt) {
  const std::string imagedir = ResolveDir(opt.imagedir, "image directory");
  const std::string mountpoint = ResolveDir(opt.mountpoint, "mountpoint");
  if (access(imagedir.c_str(), R_OK | W_OK | X_OK) != 0)
    Die(fmt::format("cannot use image directory {}: {}", imagedir, std::strerror(errno)));
  const std::string origin_path = imagedir + "/" + kOriginFile;
  if (access(origin_path.c_str(), F_OK) != 0)
    Die(fmt::format("image directory {} has no {}: {}", imagedir, kOriginFile,
                    std::strerror(errno)));

  if (!opt.foreground) ForkAndWait();
  InstallLogSink();
  SetTerminationSignalsBlocked(true);  // every thread but the FUSE loop's inherits this

  std::unique_ptr<ImageDir> dir;
  ImageDir::Options dir_opts;
  dir_opts.cow_threshold = opt.cow_threshold;
  // A read-only mount writes nothing of its own; a journal left by a killed daemon is
  // replayed either way.
  dir_opts.write_journal = opt.write_journal && !opt.read_only;
  dir_opts.origin_writes = !opt.read_only;
  Status st = ImageDir::Open(imagedir, dir_opts, &dir);
  if (!st.ok()) Die(st.ToString());
  for (const std::string& e : dir->load_errors()) LogWarning(e);
  ReleaseLoadMemory();

  Fs fs;
  fs.dir = dir.get();
  fs.origin = &dir->origin();
  fs.ns.set_origin(fs.origin);
  fs.read_only = opt.read_only;
  fs.owner_uid = getuid();
  fs.imagedir_fd = open(imagedir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fs.imagedir_fd < 0) Die(fmt::format("{}: {}", imagedir, std::strerror(errno)));

  std::unique_ptr<ControlServer> control;
  st = ControlServer::Bind(&control);
  if (!st.ok()) Die(st.ToString());
  fs.control_name = control->name();
  // Before mounting: once MOUNTPOINT shows origin.img, a second daemon or snapcowctl must
  // find who holds the directory (connections wait in the backlog until Start()).
  st = dir->SetHolder(mountpoint, control->name());
  if (!st.ok()) LogWarning("cannot record the holder: " + st.ToString());

  std::vector<std::string> args = {"snapcowfs"};
  if (opt.debug) args.push_back("-d");
  args.push_back("-o");
  args.push_back("default_permissions,subtype=snapcowfs,fsname=" + FsName(imagedir));
  for (const std::string& o : opt.fuse_options) {
    args.push_back("-o");
    args.push_back(o);
  }
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  fuse_args fargs = FUSE_ARGS_INIT(static_cast<int>(argv.size()), argv.data());
  HoldFuseErrors(true);  // a failure below is one line: ours, with libfuse's reason
  fuse_session* se = fuse_session_new(&fargs, &Operations(), sizeof(fuse_lowlevel_ops), &fs);
  fuse_opt_free_args(&fargs);
  if (!se) Die(fmt::format("cannot start a FUSE session: {}", FuseReason("bad -o option?")));
  if (fuse_set_signal_handlers(se) != 0) Die("cannot install signal handlers");
  if (fuse_session_mount(se, mountpoint.c_str()) != 0)
    Die(fmt::format("cannot mount on {}: {}", mountpoint, FuseReason("see dmesg")));
  HoldFuseErrors(false);
  fs.passthrough.set_wanted(opt.read_only || opt.read_passthrough);
  if (!InstallReplyHook(se, &fs.passthrough))
    LogWarning("parallel direct writes and read passthrough unavailable");
  fs.session = se;

  st = control->Start([&fs](const ucred& peer, std::string_view request) {
    return HandleControl(fs, peer, request);
  });
  if (!st.ok()) {
    fuse_session_unmount(se);
    Die(st.ToString());
  }
  if (!opt.foreground) {
    SwitchLogToSyslog();
    DetachFromParent();
  }
  st = NotifySystemdReady();
  if (!st.ok()) LogWarning(st.ToString());
  LogInfo(fmt::format("serving {} at {} (control socket @{})", imagedir, mountpoint,
                      control->name()));

  // Ring threads register once the loop below has answered INIT.
  std::unique_ptr<UringTransport> uring;
  if (opt.io_uring) {
    const unsigned cpus = static_cast<unsigned>(get_nprocs_conf());
    uring = std::make_unique<UringTransport>(se, std::max(2u, (opt.threads + cpus - 1) / cpus));
    if (uring->Start())
      SetIoUringWanted(true);  // INIT, still to come, asks for it: see reply_hook.h
    else
      uring.reset();
  }
  // The gate lives until every worker has been joined (the loop below returns after that).
  RequestGate gate(opt.active_threads, opt.threads, std::chrono::milliseconds(2),
                   [se] { return fuse_session_exited(se) != 0; });
  SetRequestGate(&gate);
  // Only reads through the hook may meet a non-blocking /dev/fuse (libfuse's own would spin).
  RequestPoll poll(fuse_session_fd(se),
                   std::chrono::microseconds(ReplyHookInstalled() ? opt.poll_us : 0),
                   [&fs] { return fs.dir->origin().BackgroundIdle(); });
  SetRequestPoll(&poll);
  fuse_loop_config* cfg = fuse_loop_cfg_create();
  fuse_loop_cfg_set_max_threads(cfg, opt.threads);
  fuse_loop_cfg_set_idle_threads(cfg, opt.threads);
  fuse_loop_cfg_set_clone_fd(cfg, 0);
  SetTerminationSignalsBlocked(false);
  const int loop = fuse_session_loop_mt(se, cfg);
  SetTerminationSignalsBlocked(true);
  fuse_loop_cfg_destroy(cfg);

  fuse_session_unmount(se);
  uint64_t ring_requests = 0;
  if (uring) {
    uring->Stop();
    ring_requests = uring->requests();
  }
  control->Stop();
  fuse_remove_signal_handlers(se);
  fuse_session_destroy(se);
  fs.session = nullptr;
  int rc = loop < 0 ? 1 : 0;  // a positive value is the signal that ended the loop
  if (loop < 0) LogError(fmt::format("FUSE loop failed: {}", std::strerror(-loop)));
  st = dir->Close();
  if (!st.ok()) {
    LogError("closing the image directory: " + st.ToString());
    rc = 1;
  }
  close(fs.imagedir_fd);
  LogInfo(fmt::format("stopped serving {} ({} opens with parallel direct writes, {} with "
                      "passthrough, {} of {} looks for the next request found one{})",
                      imagedir, ReplyHookHits(), fs.passthrough.passthrough_opens(),
                      poll.found(), poll.found() + poll.missed(),
                      opt.io_uring ? fmt::format(", {} requests through io_uring", ring_requests)
                                   : std::string()));
  return rc;
}

}  // namespace
}  // namespace snapcow::fusefs

int main(int argc, char** argv) {
  using namespace snapcow::fusefs;
  Options opt;
  try {
    opt = ParseOptions(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "snapcowfs: %s (try 'snapcowfs --help')\n", e.what());
    return 1;
  }
  if (opt.help) {
    std::fputs(Usage().c_str(), stdout);
    return 0;
  }
  if (opt.version) {
    std::printf("snapcowfs %s (libfuse %s)\n", SNAPCOW_VERSION, fuse_pkgversion());
    return 0;
  }
  return Run(opt);
}
