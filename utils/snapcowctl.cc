// snapcowctl: create, delete and list the snapshots of a snapcowfs image directory, live
// through the daemon or offline (DESIGN §3). Every error is one line on stderr and exit 1.
#include <fmt/format.h>

#include <boost/program_options.hpp>
#include <cstdio>
#include <iostream>
#include <stdexcept>
#include <string>
#include <vector>

#include "engine/control_protocol.h"
#include "utils/ctl_format.h"
#include "utils/ctl_target.h"

namespace po = boost::program_options;

namespace snapcow::ctl {
namespace {

constexpr char kUsage[] =
    "usage: snapcowctl snapshot create [--chunk-size SIZE] [--transient] [--read-only]\n"
    "                                  [--max-size SIZE] [--overflow invalidate|keep] DIR\n"
    "       snapcowctl snapshot delete DIR snap-N\n"
    "       snapcowctl snapshot list [--json] DIR\n"
    "       snapcowctl status [--json] DIR\n"
    "       snapcowctl --help | --version\n"
    "\n"
    "DIR is a mounted snapcowfs (the command goes to the daemon: live) or an image directory\n"
    "(through its daemon if one serves it, else edited directly: offline).\n"
    "SIZE is a byte count with an optional K, M, G or T suffix (binary).\n"
    "'snapcowctl COMMAND --help' shows the options of a command.\n"
    "\n"
    "Options:\n"
    "  -h [ --help ]         show this help and exit\n"
    "  -V [ --version ]      show the version and exit\n";

struct Failure : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// A command's own options plus its positional arguments; --help prints `synopsis` + options.
struct Command {
  std::string synopsis;
  po::options_description options{"Options"};
  std::vector<std::string> positional_names;
};

// Parses args for `cmd`; returns false when --help was asked for (and printed).
bool Parse(Command& cmd, const std::vector<std::string>& args, po::variables_map* vm) {
  cmd.options.add_options()("help,h", "show this help");
  po::options_description hidden;
  hidden.add_options()("args", po::value<std::vector<std::string>>());
  po::options_description all;
  all.add(cmd.options).add(hidden);
  po::positional_options_description pos;
  pos.add("args", -1);
  po::store(po::command_line_parser(args).options(all).positional(pos).run(), *vm);
  po::notify(*vm);
  if (vm->count("help")) {
    std::cout << "usage: snapcowctl " << cmd.synopsis << "\n\n" << cmd.options;
    return false;
  }
  const size_t given = vm->count("args") ? (*vm)["args"].as<std::vector<std::string>>().size() : 0;
  if (given != cmd.positional_names.size()) {
    std::string want;
    for (const std::string& n : cmd.positional_names) want += (want.empty() ? "" : " ") + n;
    throw Failure(fmt::format("{} arguments: expected {} (usage: snapcowctl {})",
                              given < cmd.positional_names.size() ? "missing" : "too many",
                              want, cmd.synopsis));
  }
  return true;
}

std::vector<std::string> Args(const po::variables_map& vm) {
  return vm["args"].as<std::vector<std::string>>();
}

uint64_t Size(const po::variables_map& vm, const char* option) {
  uint64_t v = 0;
  std::string error;
  if (!ParseSize(vm[option].as<std::string>(), &v, &error))
    throw Failure(fmt::format("--{}: {}", option, error));
  return v;
}

ControlReply Run(const std::string& dir, const ControlRequest& req) {
  ControlReply reply;
  const Status st = RunOn(dir, req, &reply);
  if (!st.ok()) throw Failure(st.ToString());
  return reply;
}

int Create(const std::vector<std::string>& args) {
  Command cmd;
  cmd.synopsis =
      "snapshot create [--chunk-size SIZE] [--transient] [--read-only] [--max-size SIZE] "
      "[--overflow invalidate|keep] DIR";
  cmd.options.add_options()
      ("chunk-size", po::value<std::string>()->default_value("16K"),
       "copy-on-write unit: a power of two from 4K to 1G")
      ("transient", "not kept across restarts of the daemon (live only)")
      ("read-only", "the snapshot image refuses writes")
      ("max-size", po::value<std::string>()->default_value("0"),
       "most bytes the COW store may grow to (0: no limit)")
      ("overflow", po::value<std::string>()->default_value("invalidate"),
       "when the COW store is full: invalidate the snapshot, or keep it readable");
  cmd.positional_names = {"DIR"};
  po::variables_map vm;
  if (!Parse(cmd, args, &vm)) return 0;

  ControlRequest req;
  req.kind = RequestKind::kCreate;
  const uint64_t chunk = Size(vm, "chunk-size");
  if (chunk > UINT32_MAX)
    throw Failure(fmt::format("--chunk-size {} is not a power of two between 4K and 1G",
                              vm["chunk-size"].as<std::string>()));
  req.config.chunk_bytes = static_cast<uint32_t>(chunk);
  req.config.persistent = !vm.count("transient");
  req.config.read_only = vm.count("read-only") > 0;
  req.config.max_cow_bytes = Size(vm, "max-size");
  if (!ParseOverflowMode(vm["overflow"].as<std::string>(), &req.config.overflow))
    throw Failure(fmt::format("--overflow must be invalidate or keep, not '{}'",
                              vm["overflow"].as<std::string>()));
  const std::string why = ValidateSnapshotConfig(req.config);
  if (!why.empty()) throw Failure(why);
  const ControlReply reply = Run(Args(vm)[0], req);
  std::cout << SnapshotName(reply.number) << "\n";
  return 0;
}

int Delete(const std::vector<std::string>& args) {
  Command cmd;
  cmd.synopsis = "snapshot delete DIR snap-N";
  cmd.positional_names = {"DIR", "snap-N"};
  po::variables_map vm;
  if (!Parse(cmd, args, &vm)) return 0;
  const std::vector<std::string> a = Args(vm);
  ControlRequest req;
  req.kind = RequestKind::kDelete;
  if (!ParseSnapshotName(a[1], &req.number))
    throw Failure(fmt::format("invalid snapshot name '{}' (expected snap-N, N >= 1)",
                              a[1].substr(0, 64)));
  Run(a[0], req);
  return 0;
}

int List(const std::vector<std::string>& args, RequestKind kind) {
  Command cmd;
  cmd.synopsis = kind == RequestKind::kList ? "snapshot list [--json] DIR" : "status [--json] DIR";
  cmd.options.add_options()("json", "print a JSON array, one object per snapshot");
  cmd.positional_names = {"DIR"};
  po::variables_map vm;
  if (!Parse(cmd, args, &vm)) return 0;
  ControlRequest req;
  req.kind = kind;
  const ControlReply reply = Run(Args(vm)[0], req);
  if (vm.count("json")) {
    std::cout << Json(reply.snapshots) << "\n";
    return 0;
  }
  for (const SnapshotInfo& s : reply.snapshots)
    std::cout << (kind == RequestKind::kList ? ListLine(s) : StatusLine(s)) << "\n";
  return 0;
}

int Main(const std::vector<std::string>& argv) {
  if (argv.empty()) throw Failure("missing command (try 'snapcowctl --help')");
  const std::string& c = argv[0];
  if (c == "--help" || c == "-h" || c == "help") {
    std::cout << kUsage;
    return 0;
  }
  if (c == "--version" || c == "-V") {
    std::cout << "snapcowctl " << SNAPCOW_VERSION << "\n";
    return 0;
  }
  const std::vector<std::string> rest(argv.begin() + 1, argv.end());
  if (c == "status") return List(rest, RequestKind::kStatus);
  if (c != "snapshot") throw Failure(fmt::format("unknown command '{}' (try 'snapcowctl --help')", c));
  if (rest.empty()) throw Failure("missing snapshot command: create, delete or list");
  if (rest[0] == "--help" || rest[0] == "-h") {
    std::cout << kUsage;
    return 0;
  }
  const std::vector<std::string> sub(rest.begin() + 1, rest.end());
  if (rest[0] == "create") return Create(sub);
  if (rest[0] == "delete") return Delete(sub);
  if (rest[0] == "list") return List(sub, RequestKind::kList);
  if (rest[0] == "merge") throw Failure("snapshot merge is not implemented yet");
  throw Failure(fmt::format("unknown snapshot command '{}' (create, delete or list)", rest[0]));
}

}  // namespace
}  // namespace snapcow::ctl

int main(int argc, char** argv) {
  try {
    return snapcow::ctl::Main(std::vector<std::string>(argv + 1, argv + argc));
  } catch (const std::exception& e) {
    std::fflush(stdout);
    std::fprintf(stderr, "snapcowctl: %s\n", e.what());
    return 1;
  }
}
