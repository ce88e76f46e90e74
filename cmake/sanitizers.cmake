# Sanitizer and fuzzer instrumentation for the standalone core build (cmake -S cpp): the core library, the
# C++ tests, the microbenchmarks and the fuzz harnesses. Never used for anything that ships.
#
#   -DEDGEINFER_SANITIZE=address,undefined   ASan + UBSan (any -fsanitize= list works; g++ or clang++);
#                                            UBSan findings abort (-fno-sanitize-recover=undefined,...)
#   -DEDGEINFER_BUILD_FUZZERS=ON             libFuzzer harnesses in cpp/fuzz/ (clang++ only); the core then
#                                            also gets -fsanitize=fuzzer-no-link (coverage for the fuzzer)
#
# scripts/test-sanitizers.js and scripts/fuzz.js configure build-asan/ and build-fuzz/ with these.

set(EDGEINFER_SANITIZE "" CACHE STRING
    "Comma-separated sanitizers for the core, tests and fuzzers, e.g. address,undefined (empty: none)")

# Applies to every target defined after this, in the calling directory and below (cpp/ only: the N-API
# addon of the top-level build is not instrumented, a sanitized addon would need the runtime preloaded).
macro(edgeinfer_apply_sanitizers)
  if(NOT EDGEINFER_SANITIZE STREQUAL "")
    if(MSVC)
      message(FATAL_ERROR "EDGEINFER_SANITIZE is supported with g++ and clang++ only")
    endif()
    string(REPLACE ";" "," _edgeinfer_sanitize "${EDGEINFER_SANITIZE}")
    set(_edgeinfer_san_flags -fsanitize=${_edgeinfer_sanitize} -fno-omit-frame-pointer)
    # UBSan checks (undefined, or single ones such as float-cast-overflow) abort at the first finding.
    string(REPLACE "," ";" _edgeinfer_recover "${_edgeinfer_sanitize}")
    list(REMOVE_ITEM _edgeinfer_recover address leak fuzzer fuzzer-no-link)
    if(_edgeinfer_recover)
      string(REPLACE ";" "," _edgeinfer_recover "${_edgeinfer_recover}")
      list(APPEND _edgeinfer_san_flags -fno-sanitize-recover=${_edgeinfer_recover})
    endif()
    message(STATUS "edgeinfer: sanitizers ${_edgeinfer_sanitize} (${_edgeinfer_san_flags})")
    add_compile_options(${_edgeinfer_san_flags})
    add_link_options(${_edgeinfer_san_flags})
  endif()
  set(EDGEINFER_FUZZERS_ENABLED OFF)
  if(EDGEINFER_BUILD_FUZZERS)
    if(CMAKE_CXX_COMPILER_ID MATCHES "Clang")
      set(EDGEINFER_FUZZERS_ENABLED ON)
      # Coverage instrumentation for everything the harnesses call; the harnesses link -fsanitize=fuzzer.
      add_compile_options(-fsanitize=fuzzer-no-link)
    else()
      message(WARNING "EDGEINFER_BUILD_FUZZERS needs clang++ (libFuzzer), got ${CMAKE_CXX_COMPILER_ID}: the "
                      "harnesses are not built. Configure with -DCMAKE_CXX_COMPILER=clang++-14 (or clang++).")
    endif()
  endif()
endmacro()
