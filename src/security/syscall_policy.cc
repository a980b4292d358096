// See syscall_policy.h. The list was found by tracing (strace -f -c) the integration suite's
// workloads with the filter on: text, meta and binary commands, multi-gets, UDP, stats, SIGHUP
// reloads of the config and auth files, shutdown through SIGTERM and the shutdown command.
#include "security/syscall_policy.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/socket.h>

namespace memshield::security {
namespace {

// Calls whose every use is harmless for a server that already holds its sockets: I/O on
// descriptors it has, memory, threads waiting on each other. Nothing creates a socket, starts a
// process or thread, changes identity or reaches another process.
constexpr const char* kAlways[] = {
    // descriptors the server already holds; fstat and lseek for files read on SIGHUP
    "read", "write", "close", "lseek", "fstat", "newfstatat",
    // TCP and UDP serving (accept4 only: the listeners are non-blocking and CLOEXEC)
    "accept4", "recvfrom", "sendto", "recvmsg", "sendmsg", "recvmmsg", "sendmmsg",
    "setsockopt", "shutdown",
    // event loops (workers, metrics endpoint)
    "epoll_wait", "epoll_pwait", "epoll_ctl", "poll", "ppoll",
    // malloc (mmap and mprotect have their own rules below)
    "munmap", "mremap", "madvise", "brk",
    // threads waiting on each other (sched_yield: the store's writers back off under
    // contention), clocks (vDSO normally), signals, exit
    "futex", "sched_yield", "clock_gettime", "gettimeofday", "getpid", "gettid", "rt_sigprocmask",
    "rt_sigtimedwait", "rt_sigreturn", "restart_syscall", "exit", "exit_group",
    // a thread's own start-up: threads started just before the filter may still be running it
    "rseq", "set_robust_list",
    // cookie secret rotation (getrandom), `stats` (getrusage)
    "getrandom", "getrusage",
};

// The calls LeakSanitizer makes at exit to stop the world and scan it, and ASan's report path.
constexpr const char* kSanitizer[] = {
    "clone", "ptrace", "wait4", "prctl", "sched_getaffinity", "sigaltstack", "readlink",
    "readlinkat", "getppid", "rt_sigaction", "tgkill", "pipe2", "dup", "dup2", "dup3",
    "open", "openat", "unlink", "mmap", "mprotect", "kill", "getuid", "geteuid", "uname",
    "sysinfo", "getrlimit", "prlimit64", "setrlimit", "getdents", "getdents64",
    "waitid", "clone3",
};

}  // namespace

std::vector<SyscallRule> server_syscall_policy(const SyscallPolicyOptions& options) {
  std::vector<SyscallRule> rules;
  for (const char* name : kAlways) rules.push_back({name, std::nullopt});

  // Memory never becomes executable (what MemoryDenyWriteExecute= does in the systemd unit).
  rules.push_back({"mmap", SyscallArgCheck{2, PROT_EXEC, 0}});
  rules.push_back({"mprotect", SyscallArgCheck{2, PROT_EXEC, 0}});

  // SIGHUP re-reads the config file, -Y's auth file and TLS certificates: reading only, never
  // creating or truncating a file.
  constexpr uint64_t kWriteFlags = O_ACCMODE | O_CREAT | O_TRUNC | O_APPEND;
  rules.push_back({"openat", SyscallArgCheck{2, kWriteFlags, O_RDONLY}});
  rules.push_back({"open", SyscallArgCheck{1, kWriteFlags, O_RDONLY}});

  // The `shutdown` command signals the server itself.
  if (options.self_pid > 0) {
    rules.push_back({"kill", SyscallArgCheck{0, 0xffffffffu, options.self_pid}});
    rules.push_back({"tgkill", SyscallArgCheck{0, 0xffffffffu, options.self_pid}});
  }
  if (options.unlink_on_exit) {
    rules.push_back({"unlink", std::nullopt});
    rules.push_back({"unlinkat", std::nullopt});
  }
  if (options.notify_socket) {
    rules.push_back({"socket", SyscallArgCheck{0, 0xffffffffu, AF_UNIX}});
  }
  // Cyrus SASL's sasldb plugin opens the database read-only for every lookup (openat above),
  // marks it close-on-exec and reads its pages with pread64.
  if (options.cyrus_sasl) {
    rules.push_back({"pread64", std::nullopt});
    rules.push_back({"fcntl", SyscallArgCheck{1, 0xffffffffu, F_GETFD}});
    rules.push_back({"fcntl", SyscallArgCheck{1, 0xffffffffu, F_SETFD}});
  }
  if (options.memory_file) {
    rules.push_back({"fallocate", std::nullopt});
    rules.push_back({"fsync", std::nullopt});
    for (const char* name : {"rename", "renameat", "renameat2", "unlink", "unlinkat"}) {
      rules.push_back({name, std::nullopt});
    }
    // The metadata's temporary file: created write-only and truncated, nothing else.
    constexpr uint64_t kMetaFlags = O_WRONLY | O_CREAT | O_TRUNC;
    rules.push_back({"openat", SyscallArgCheck{2, kWriteFlags, kMetaFlags}});
    rules.push_back({"open", SyscallArgCheck{1, kWriteFlags, kMetaFlags}});
  }
  if (options.sanitizer_runtime) {
    for (const char* name : kSanitizer) rules.push_back({name, std::nullopt});
  }
  return rules;
}

}  // namespace memshield::security
