// The installed filter, in forked children (gtest death tests): the serving calls still work,
// and a call outside the allow-list kills the process with SIGSYS rather than failing quietly.
#include "server/sandbox.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cstdlib>
#include <string>
#include <vector>

namespace memshield::server {
namespace {

void install_or_exit() {
  security::SyscallPolicyOptions o;
  o.self_pid = static_cast<uint32_t>(getpid());
  o.sanitizer_runtime = kSanitizerBuild;
  std::string error;
  if (!install_seccomp(security::server_syscall_policy(o), &error)) _exit(3);
}

class Sandbox : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!seccomp_available()) GTEST_SKIP() << "built without libseccomp";
    GTEST_FLAG_SET(death_test_style, "threadsafe");
  }
};

void serve_a_little() {
  int fds[2];
  if (socketpair(AF_UNIX, SOCK_STREAM, 0, fds) != 0) _exit(4);  // made before the filter
  install_or_exit();
  std::vector<char> big(8 << 20, 'x');  // malloc's mmap path
  if (write(fds[0], big.data(), 1000) != 1000) _exit(5);
  char buf[1000];
  if (read(fds[1], buf, sizeof(buf)) != 1000) _exit(6);
  close(fds[0]);
  close(fds[1]);
  _exit(0);
}

TEST_F(Sandbox, ServingCallsSurvive) {
  EXPECT_EXIT(serve_a_little(), ::testing::ExitedWithCode(0), "");
}

TEST_F(Sandbox, NewSocketKills) {
  EXPECT_EXIT(
      {
        install_or_exit();
        socket(AF_INET, SOCK_STREAM, 0);
        _exit(0);
      },
      ::testing::KilledBySignal(SIGSYS), "");
}

void exec_true() {
  install_or_exit();
  char* const argv[] = {const_cast<char*>("/bin/true"), nullptr};
  execv("/bin/true", argv);
  _exit(0);
}

TEST_F(Sandbox, ExecKills) { EXPECT_EXIT(exec_true(), ::testing::KilledBySignal(SIGSYS), ""); }

TEST_F(Sandbox, WritingAFileKills) {
  if (kSanitizerBuild) GTEST_SKIP() << "ASan builds allow LeakSanitizer's open and kill";
  EXPECT_EXIT(
      {
        install_or_exit();
        open("/tmp/memshield-sandbox-test", O_WRONLY | O_CREAT, 0600);
        _exit(0);
      },
      ::testing::KilledBySignal(SIGSYS), "");
}

TEST_F(Sandbox, ReadingAFileIsAllowed) {
  EXPECT_EXIT(
      {
        install_or_exit();
        int fd = open("/proc/self/status", O_RDONLY);
        _exit(fd >= 0 ? 0 : 7);
      },
      ::testing::ExitedWithCode(0), "");
}

TEST_F(Sandbox, SignallingAnotherProcessKills) {
  if (kSanitizerBuild) GTEST_SKIP() << "ASan builds allow LeakSanitizer's open and kill";
  pid_t parent = getppid();
  EXPECT_EXIT(
      {
        install_or_exit();
        kill(parent, 0);
        _exit(0);
      },
      ::testing::KilledBySignal(SIGSYS), "");
}

}  // namespace
}  // namespace memshield::server
