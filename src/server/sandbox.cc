// See sandbox.h. Names that do not exist on this architecture (epoll_pwait2 on an old kernel
// header set, legacy open on arm64) are skipped: the policy lists names, not numbers.
#include "server/sandbox.h"

#ifdef MEMSHIELD_HAVE_SECCOMP
#include <seccomp.h>
#endif

#include <cstring>

namespace memshield::server {

#ifdef MEMSHIELD_HAVE_SECCOMP

bool seccomp_available() { return true; }

bool install_seccomp(const std::vector<security::SyscallRule>& rules, std::string* error) {
  scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_KILL_PROCESS);
  if (ctx == nullptr) {
    *error = "seccomp_init failed";
    return false;
  }
  int rc = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_TSYNC, 1);
  if (rc != 0) *error = std::string("seccomp thread synchronisation: ") + strerror(-rc);
  for (size_t i = 0; rc == 0 && i < rules.size(); ++i) {
    const security::SyscallRule& r = rules[i];
    int nr = seccomp_syscall_resolve_name(r.name);
    if (nr == __NR_SCMP_ERROR) continue;
    if (r.check) {
      scmp_arg_cmp cmp{r.check->arg, SCMP_CMP_MASKED_EQ, r.check->mask, r.check->value};
      rc = seccomp_rule_add_array(ctx, SCMP_ACT_ALLOW, nr, 1, &cmp);
    } else {
      rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 0);
    }
    if (rc != 0) *error = std::string("seccomp rule for ") + r.name + ": " + strerror(-rc);
  }
  if (rc == 0) {
    rc = seccomp_load(ctx);
    if (rc != 0) *error = std::string("seccomp_load: ") + strerror(-rc);
  }
  seccomp_release(ctx);
  return rc == 0;
}

#else

bool seccomp_available() { return false; }

bool install_seccomp(const std::vector<security::SyscallRule>&, std::string* error) {
  *error = "this memshield was built without libseccomp";
  return false;
}

#endif

}  // namespace memshield::server
