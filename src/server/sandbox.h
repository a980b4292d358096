// Installs a seccomp filter built from security/syscall_policy.h on every thread of the process
// (-o drop_privileges, --seccomp). A call outside the allow-list kills the whole process: an
// unexpected call means either a compromise or a missing entry, and both must be loud.
#pragma once

#include <string>
#include <vector>

#include "security/syscall_policy.h"

namespace memshield::server {

// True when this build can filter system calls (it was linked with libseccomp).
bool seccomp_available();

// AddressSanitizer builds: the filter must also let LeakSanitizer's exit-time calls through.
#if defined(__SANITIZE_ADDRESS__)
inline constexpr bool kSanitizerBuild = true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
inline constexpr bool kSanitizerBuild = true;
#else
inline constexpr bool kSanitizerBuild = false;
#endif
#else
inline constexpr bool kSanitizerBuild = false;
#endif

// Loads the filter (no_new_privs set, synchronised to all threads). False with *error set when
// the kernel or the build cannot; nothing is installed then.
bool install_seccomp(const std::vector<security::SyscallRule>& rules, std::string* error);

}  // namespace memshield::server
