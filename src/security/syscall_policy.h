// The seccomp allow-list of a running memshield (-o drop_privileges / --seccomp): every system
// call the server makes once its listeners are bound and its threads are started, with argument
// checks where one call name covers both a harmless and a dangerous use (no PROT_EXEC mappings,
// files opened read-only). Pure data: the server installs it (server/sandbox.h).
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

namespace memshield::security {

// Passes when (argument[arg] & mask) == value.
struct SyscallArgCheck {
  unsigned arg = 0;
  uint64_t mask = 0;
  uint64_t value = 0;
};

// One allowed call. Several rules with the same name are alternatives (any one allows it).
struct SyscallRule {
  const char* name;
  std::optional<SyscallArgCheck> check;
};

struct SyscallPolicyOptions {
  bool unlink_on_exit = false;   // -s or -P: the socket / pid file is removed at shutdown
  bool notify_socket = false;    // $NOTIFY_SOCKET: sd_notify("STOPPING=1") at shutdown
  bool sanitizer_runtime = false;  // ASan/LSan builds: the leak checker's calls at exit
  uint32_t self_pid = 0;         // kill/tgkill allowed on this process only (0: not at all)
  bool cyrus_sasl = false;       // -S with Cyrus SASL: its sasldb lookups read the database
  bool memory_file = false;      // -e: freed segments are punched out of the file, and a
                                 // graceful stop writes FILE.meta (create, write, fsync, rename)
};

// The allow-list; everything else is refused (the server kills the process on a refused call).
std::vector<SyscallRule> server_syscall_policy(const SyscallPolicyOptions& options);

}  // namespace memshield::security
