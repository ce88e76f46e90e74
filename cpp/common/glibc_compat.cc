// libstdc++ from GCC 11+ reads glibc's __libc_single_threaded (added in glibc 2.32) in its inline atomic
// helpers when built against glibc >= 2.32. Defining it here, hidden and always 0 ("threads may exist"),
// keeps shipped binaries loadable on glibc < 2.32; the only effect is that reference counts always use
// atomic operations, which is what they must do in an addon anyway.
#include "glibc_compat.h"

#if defined(__linux__) && defined(__GLIBC__) && (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 32)
extern "C" {
__attribute__((visibility("hidden"))) char __libc_single_threaded = 0;
}
#endif
