// Force-included into every shipped object (see CMakeLists.txt). glibc 2.29 added new symbol versions of
// exp/log/pow (faster, same results to within an ulp); binding to the old ones lets the prebuilt binaries
// load on glibc 2.17+ distributions instead of 2.29+.
#pragma once

#if defined(__linux__)
#include <features.h>  // defines __GLIBC__ (this file is included before anything else)
#endif

#if defined(__linux__) && defined(__GLIBC__)
#if defined(__x86_64__)
__asm__(".symver exp,exp@GLIBC_2.2.5");
__asm__(".symver log,log@GLIBC_2.2.5");
__asm__(".symver pow,pow@GLIBC_2.2.5");
__asm__(".symver expf,expf@GLIBC_2.2.5");
__asm__(".symver logf,logf@GLIBC_2.2.5");
__asm__(".symver powf,powf@GLIBC_2.2.5");
#elif defined(__aarch64__)
__asm__(".symver exp,exp@GLIBC_2.17");
__asm__(".symver log,log@GLIBC_2.17");
__asm__(".symver pow,pow@GLIBC_2.17");
__asm__(".symver expf,expf@GLIBC_2.17");
__asm__(".symver logf,logf@GLIBC_2.17");
__asm__(".symver powf,powf@GLIBC_2.17");
#endif
#endif
