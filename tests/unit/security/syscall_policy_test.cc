// The seccomp allow-list as data: what the serving path needs is there, and nothing that starts
// a process, creates a socket, changes identity, reaches another process or writes a file is.
#include "security/syscall_policy.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/socket.h>

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace memshield::security {
namespace {

std::vector<SyscallRule> rules_named(const std::vector<SyscallRule>& all, const std::string& n) {
  std::vector<SyscallRule> out;
  for (const SyscallRule& r : all) {
    if (n == r.name) out.push_back(r);
  }
  return out;
}

TEST(SyscallPolicy, ServingCallsAreAllowed) {
  auto p = server_syscall_policy({});
  for (const char* name : {"accept4", "read", "write", "sendmsg", "recvmmsg", "sendmmsg",
                           "epoll_wait", "epoll_ctl", "futex", "close", "munmap", "madvise",
                           "brk", "exit_group", "getrandom", "rt_sigtimedwait"}) {
    EXPECT_EQ(rules_named(p, name).size(), 1u) << name;
  }
}

TEST(SyscallPolicy, DangerousCallsAreAbsent) {
  auto p = server_syscall_policy({});
  for (const char* name :
       {"execve", "execveat", "fork", "vfork", "clone", "clone3", "ptrace", "socket",
        "connect", "bind", "listen", "setuid", "setgid", "setgroups", "setresuid", "chmod",
        "fchmod", "chown", "unlink", "unlinkat", "rename", "mount", "kill", "tgkill",
        "process_vm_writev", "personality", "prctl", "seccomp", "bpf", "memfd_create"}) {
    EXPECT_TRUE(rules_named(p, name).empty()) << name;
  }
}

TEST(SyscallPolicy, NoExecutableMemory) {
  auto p = server_syscall_policy({});
  for (const char* name : {"mmap", "mprotect"}) {
    auto r = rules_named(p, name);
    ASSERT_EQ(r.size(), 1u) << name;
    ASSERT_TRUE(r[0].check.has_value());
    EXPECT_EQ(r[0].check->arg, 2u);
    EXPECT_EQ(r[0].check->mask & PROT_EXEC, static_cast<uint64_t>(PROT_EXEC));
    EXPECT_EQ(r[0].check->value, 0u);
  }
}

TEST(SyscallPolicy, FilesAreOpenedReadOnly) {
  auto r = rules_named(server_syscall_policy({}), "openat");
  ASSERT_EQ(r.size(), 1u);
  ASSERT_TRUE(r[0].check.has_value());
  const SyscallArgCheck& c = *r[0].check;
  EXPECT_EQ(c.arg, 2u);
  EXPECT_EQ(O_RDONLY & c.mask, c.value);                  // read-only passes
  EXPECT_NE(O_WRONLY & c.mask, c.value);                  // write does not
  EXPECT_NE((O_RDONLY | O_CREAT) & c.mask, c.value);      // nor creating
  EXPECT_NE((O_RDONLY | O_TRUNC) & c.mask, c.value);      // nor truncating
}

TEST(SyscallPolicy, OptionsAddOnlyWhatTheyNeed) {
  SyscallPolicyOptions o;
  o.unlink_on_exit = true;
  o.notify_socket = true;
  o.self_pid = 4242;
  auto p = server_syscall_policy(o);
  EXPECT_EQ(rules_named(p, "unlink").size(), 1u);
  auto sock = rules_named(p, "socket");
  ASSERT_EQ(sock.size(), 1u);
  EXPECT_EQ(sock[0].check->value, static_cast<uint64_t>(AF_UNIX));
  auto kill = rules_named(p, "kill");
  ASSERT_EQ(kill.size(), 1u);
  EXPECT_EQ(kill[0].check->arg, 0u);
  EXPECT_EQ(kill[0].check->value, 4242u);
}

// -S with Cyrus SASL: sasldb lookups at authentication time need pread64 and fcntl's
// close-on-exec commands, nothing else of fcntl (no locks, no F_SETFL, no F_DUPFD).
TEST(SyscallPolicy, CyrusSaslReadsItsDatabaseOnly) {
  EXPECT_TRUE(rules_named(server_syscall_policy({}), "fcntl").empty());
  EXPECT_TRUE(rules_named(server_syscall_policy({}), "pread64").empty());
  SyscallPolicyOptions o;
  o.cyrus_sasl = true;
  auto p = server_syscall_policy(o);
  EXPECT_EQ(rules_named(p, "pread64").size(), 1u);
  auto f = rules_named(p, "fcntl");
  ASSERT_EQ(f.size(), 2u);
  for (const SyscallRule& r : f) {
    ASSERT_TRUE(r.check.has_value());
    EXPECT_EQ(r.check->arg, 1u);
    EXPECT_TRUE(r.check->value == F_GETFD || r.check->value == F_SETFD);
  }
  EXPECT_TRUE(rules_named(p, "socket").empty());
}

}  // namespace
}  // namespace memshield::security
