#include "fusefs/options.h"

#include <fmt/format.h>
#include <sys/sysinfo.h>

#include <algorithm>
#include <boost/program_options.hpp>
#include <sstream>
#include <stdexcept>

#include "engine/snapshot_config.h"

namespace po = boost::program_options;

namespace snapcow::fusefs {
namespace {

constexpr unsigned kMinThreads = 1;
constexpr unsigned kMaxThreads = 1024;
// A worker looking longer than a millisecond burns more CPU than any wake-up costs.
constexpr unsigned kMaxPollUs = 1000;

po::options_description Visible() {
  po::options_description d("Options");
  d.add_options()
      ("help,h", "show this help and exit")
      ("version,V", "show the version and exit")
      ("foreground,f", "stay in the foreground (log to stderr)")
      ("debug,d", "print every FUSE request (implies -f)")
      ("option,o", po::value<std::vector<std::string>>()->composing(),
       "FUSE mount options, comma-separated (e.g. allow_other, ro)")
      ("threads", po::value<unsigned>()->default_value(16),
       "FUSE worker threads (kept alive when idle)")
      ("active-threads", po::value<unsigned>()->default_value(0),
       "workers taking requests at once, more while some are blocked (0: one per CPU, "
       "at least 2, at most --threads)")
      ("poll-us", po::value<unsigned>()->default_value(50),
       "after a reply, a worker looks for the next request for up to this many microseconds "
       "before it sleeps, while no other request is in flight (0: never)")
      ("cow-threshold", po::value<uint32_t>()->default_value(kDefaultCowThreshold),
       "most chunk copies in flight at once")
      ("read-passthrough",
       "read-only opens of origin.img bypass the daemon (FUSE passthrough, Linux 6.9+) "
       "while no writable open of it is live; a writable open waits for them to close, or "
       "fails with EBUSY. Always on with -o ro")
      ("no-write-journal",
       "a first write to an origin chunk is acknowledged only once its copy into every "
       "snapshot is durable, instead of once it is in IMAGEDIR/.snapcowfs.journal")
      ("io-uring",
       "take FUSE requests through io_uring (Linux 6.14+, needs "
       "/sys/module/fuse/parameters/enable_uring set to Y): --threads ring threads, spread "
       "over the CPUs (at least 2 each); serves through /dev/fuse if the kernel refuses");
  return d;
}

// Atime policies that mount(8) passes on from fstab (through mount.fuse3) and libfuse 3.14
// rejects. The kernel marks every FUSE inode S_NOATIME (times are the daemon's, here the image
// files'), so none of them can change anything: they are dropped.
bool IsAtimePolicy(const std::string& opt) {
  for (const char* a : {"relatime", "norelatime", "strictatime", "nostrictatime", "lazytime",
                        "nolazytime", "diratime", "nodiratime"})
    if (opt == a) return true;
  return false;
}

void Split(const std::string& s, std::vector<std::string>* out) {
  std::stringstream in(s);
  std::string item;
  while (std::getline(in, item, ','))
    if (!item.empty() && !IsAtimePolicy(item)) out->push_back(item);
}

}  // namespace

std::string Usage() {
  std::ostringstream out;
  out << "usage: snapcowfs [-f] [-d] [-o OPT,...] [--threads N] [--active-threads N]\n"
         "                 [--poll-us N] [--cow-threshold N] [--read-passthrough] [--no-write-journal]\n"
         "                 [--io-uring]\n"
         "                 IMAGEDIR MOUNTPOINT\n\n"
         "Serves IMAGEDIR/origin.img and one snap-N.img per snapshot at MOUNTPOINT\n"
         "(which may be IMAGEDIR itself). Manage snapshots with snapcowctl(8).\n\n"
      << Visible();
  return out.str();
}

Options ParseOptions(int argc, char** argv) {
  po::options_description hidden;
  hidden.add_options()("imagedir", po::value<std::string>())(
      "mountpoint", po::value<std::string>())("extra", po::value<std::vector<std::string>>());
  po::options_description all;
  all.add(Visible()).add(hidden);
  po::positional_options_description pos;
  pos.add("imagedir", 1).add("mountpoint", 1).add("extra", -1);
  po::variables_map vm;
  po::store(po::command_line_parser(argc, argv).options(all).positional(pos).run(), vm);
  po::notify(vm);

  Options o;
  o.help = vm.count("help") > 0;
  o.version = vm.count("version") > 0;
  if (o.help || o.version) return o;
  o.debug = vm.count("debug") > 0;
  o.foreground = vm.count("foreground") > 0 || o.debug;
  if (vm.count("option"))
    for (const std::string& s : vm["option"].as<std::vector<std::string>>())
      Split(s, &o.fuse_options);
  for (const std::string& opt : o.fuse_options) {
    if (opt == "ro") o.read_only = true;
    if (opt == "rw") o.read_only = false;
    // libfuse would mount and then fail the kernel's INIT: the parent would report success.
    if (opt.rfind("max_read=", 0) == 0)
      throw std::runtime_error(fmt::format("-o {} is not supported", opt));
  }
  o.threads = vm["threads"].as<unsigned>();
  if (o.threads < kMinThreads || o.threads > kMaxThreads)
    throw std::runtime_error(
        fmt::format("--threads must be between {} and {}", kMinThreads, kMaxThreads));
  o.active_threads = vm["active-threads"].as<unsigned>();
  if (o.active_threads > o.threads)
    throw std::runtime_error(
        fmt::format("--active-threads must be at most --threads ({})", o.threads));
  if (o.active_threads == 0)
    o.active_threads = std::min(o.threads, std::max(2u, static_cast<unsigned>(get_nprocs())));
  o.poll_us = vm["poll-us"].as<unsigned>();
  if (o.poll_us > kMaxPollUs)
    throw std::runtime_error(fmt::format("--poll-us must be at most {}", kMaxPollUs));
  o.read_passthrough = vm.count("read-passthrough") > 0;
  o.write_journal = vm.count("no-write-journal") == 0;
  o.io_uring = vm.count("io-uring") > 0;
  // A writable open waits in a worker for a passthrough release that another worker must
  // receive (fusefs/passthrough.h).
  if (o.read_passthrough && o.threads < 2)
    throw std::runtime_error("--read-passthrough needs --threads 2 or more");
  o.cow_threshold = vm["cow-threshold"].as<uint32_t>();
  if (o.cow_threshold == 0) throw std::runtime_error("--cow-threshold must be at least 1");
  if (vm.count("extra")) throw std::runtime_error("too many arguments (expected IMAGEDIR MOUNTPOINT)");
  if (!vm.count("imagedir")) throw std::runtime_error("missing IMAGEDIR and MOUNTPOINT");
  if (!vm.count("mountpoint")) throw std::runtime_error("missing MOUNTPOINT");
  o.imagedir = vm["imagedir"].as<std::string>();
  o.mountpoint = vm["mountpoint"].as<std::string>();
  return o;
}

}  // namespace snapcow::fusefs
