// mapFile(path, offset, length): a read-only file range as an ArrayBuffer backed by an mmap (zero copy), so
// large ONNX external data costs page cache rather than a heap copy. The finalizer unmaps when the buffer
// is collected. Where the runtime refuses external buffers (Electron) the bytes are copied instead.
//
// The mapping is MAP_PRIVATE with PROT_READ | PROT_WRITE: callers must treat the bytes as read-only (V8 has
// no read-only ArrayBuffers), but a stray write only makes a private copy of that page. It never reaches
// the file and, unlike a PROT_READ mapping, cannot kill the process with SIGSEGV.
// Truncating the file while it is mapped makes reads past the new end raise SIGBUS: model files must not
// be rewritten in place while a model that maps them is alive.
#include "mapped_file.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>

namespace edgeinfer::binding {

namespace {

// Owns one mapping; the ArrayBuffer's finalizer deletes it (or the caller, if no buffer took it).
struct Mapping {
  void* base;
  size_t size;    // of the whole page-aligned mapping
  size_t length;  // bytes handed to JS, reported to V8
  ~Mapping() { munmap(base, size); }
};

void release_mapping(napi_env env, void*, void* hint) {
  auto* mapping = static_cast<Mapping*>(hint);
  int64_t ignored = 0;
  napi_adjust_external_memory(env, -static_cast<int64_t>(mapping->length), &ignored);
  delete mapping;
}

// Closes the descriptor on every path out of map_file.
struct Fd {
  int fd;
  ~Fd() {
    if (fd >= 0) close(fd);
  }
};

}  // namespace

Napi::Value map_file(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsString()) throw_invalid(env, "path must be a string");
  const std::string path = info[0].As<Napi::String>().Utf8Value();
  // open() would stop at an embedded NUL and map some other file.
  if (path.empty() || path.find('\0') != std::string::npos) throw_invalid(env, "path must be a non-empty string without NUL");
  constexpr int64_t kMax = (int64_t{1} << 53) - 1;  // exact in a JS number; the sum cannot overflow int64
  const int64_t offset = int_arg(info, 1, "offset", 0, kMax);
  const int64_t length = int_arg(info, 2, "length", 0, kMax);

  return guarded(env, [&]() -> Napi::Value {  // bad_alloc and the like become coded errors too
    const Fd file{open(path.c_str(), O_RDONLY | O_CLOEXEC)};
    if (file.fd < 0) throw_invalid(env, "cannot open '" + path + "': " + std::strerror(errno));
    struct stat st {};
    if (fstat(file.fd, &st) != 0) throw_invalid(env, "cannot stat '" + path + "': " + std::strerror(errno));
    if (!S_ISREG(st.st_mode)) throw_invalid(env, "'" + path + "' is not a regular file");
    if (offset + length > static_cast<int64_t>(st.st_size))
      throw_invalid(env, "range [" + std::to_string(offset) + ", " + std::to_string(offset + length) + ") lies beyond the end of '" +
                             path + "' (" + std::to_string(st.st_size) + " bytes)");
    if (length == 0) return Napi::ArrayBuffer::New(env, 0);  // mmap refuses empty ranges
    // Node 20 makes no ArrayBuffer above 2^32 bytes, and when it refuses an external one it has already
    // run the finalizer (the mapping would be released twice): refuse such a range before mapping it.
    constexpr int64_t kMaxBufferBytes = int64_t{1} << 32;
    if (length > kMaxBufferBytes)
      throw_invalid(env, "cannot map " + std::to_string(length) + " bytes of '" + path + "' as one buffer (at most 2^32)");

    // mmap offsets must be page-aligned: map from the page holding `offset`, hand out the bytes after it.
    const int64_t page = sysconf(_SC_PAGESIZE);
    const int64_t start = offset - offset % page;
    const auto lead = static_cast<size_t>(offset - start);
    const size_t size = lead + static_cast<size_t>(length);
    void* base = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE, file.fd, static_cast<off_t>(start));
    if (base == MAP_FAILED) {
      const int error = errno;
      throw_error(env, error == ENOMEM ? "EDGEINFER_OUT_OF_MEMORY" : "EDGEINFER_INVALID_ARGUMENT",
                  "cannot map '" + path + "': " + std::strerror(error));
    }
    std::unique_ptr<Mapping> mapping(new Mapping{base, size, static_cast<size_t>(length)});
    uint8_t* data = static_cast<uint8_t*>(base) + lead;

    Napi::Value result;
    if (external_arraybuffer(env, data, mapping->length, release_mapping, mapping.get(), result)) {
      mapping.release();  // the buffer owns it now
      int64_t ignored = 0;
      napi_adjust_external_memory(env, length, &ignored);  // lets the GC weigh what a dropped model holds
      return result;
    }
    // Copy fallback: a buffer of its own; the mapping goes when `mapping` does.
    Napi::ArrayBuffer copy = Napi::ArrayBuffer::New(env, mapping->length);
    std::memcpy(copy.Data(), data, mapping->length);
    return copy;
  });
}

Napi::Value external_buffers_enabled_js(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), external_buffers_enabled(info.Env()));
}

}  // namespace edgeinfer::binding
