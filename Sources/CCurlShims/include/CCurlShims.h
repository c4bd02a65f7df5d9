#ifndef CCURLSHIMS_H
#define CCURLSHIMS_H

// Typed, non-variadic wrappers around libcurl's variadic calls, for Swift.
//
// Why this target exists: Swift cannot call C variadic functions, and `curl_easy_setopt`, `curl_easy_getinfo` and
// `curl_multi_setopt` are variadic. libcurl reads the variadic argument with the C type the option implies (`long`,
// `curl_off_t`, a data pointer, a function pointer), so there is exactly one wrapper per argument type; passing any
// other type is undefined behaviour. Every non-variadic libcurl function is called from Swift directly.

#include <curl/curl.h>

#pragma clang assume_nonnull begin

/// A `CURLOPT_WRITEFUNCTION` / `CURLOPT_HEADERFUNCTION` callback.
typedef size_t (*CCurlShims_data_callback)(char *data, size_t size, size_t count, void *userdata);

/// `curl_easy_setopt` for options that take a `long` (`CURLOPTTYPE_LONG`). Exists: the call is variadic.
CURLcode CCurlShims_easy_setopt_long(CURL *handle, CURLoption option, long value);

/// `curl_easy_setopt` for options that take a `curl_off_t` (`CURLOPTTYPE_OFF_T`). Exists: the call is variadic, and
/// `curl_off_t` need not be the same width as `long`.
CURLcode CCurlShims_easy_setopt_off(CURL *handle, CURLoption option, curl_off_t value);

/// `curl_easy_setopt` for options that take a C string (`CURLOPTTYPE_STRINGPOINT`; libcurl copies it, except
/// `CURLOPT_POSTFIELDS`, which this project never sets). Exists: the call is variadic.
CURLcode CCurlShims_easy_setopt_string(CURL *handle, CURLoption option, const char *_Nullable value);

/// `curl_easy_setopt` for options that take a data pointer (`CURLOPTTYPE_OBJECTPOINT`/`CBPOINT`, such as
/// `CURLOPT_WRITEDATA`, and `CURLOPT_COPYPOSTFIELDS`, whose bytes libcurl copies). Exists: the call is variadic.
CURLcode CCurlShims_easy_setopt_pointer(CURL *handle, CURLoption option, const void *_Nullable value);

/// `curl_easy_setopt` for options that take a `struct curl_slist *` (`CURLOPTTYPE_SLISTPOINT`, such as
/// `CURLOPT_HTTPHEADER`; libcurl does not copy the list). Exists: the call is variadic.
CURLcode CCurlShims_easy_setopt_slist(CURL *handle, CURLoption option, struct curl_slist *_Nullable value);

/// `curl_easy_setopt` for `CURLOPT_WRITEFUNCTION` and `CURLOPT_HEADERFUNCTION`. Exists: the call is variadic, and a
/// function pointer must be passed as a function pointer, not as a data pointer.
CURLcode CCurlShims_easy_setopt_callback(CURL *handle, CURLoption option, CCurlShims_data_callback _Nullable value);

/// Restricts the protocols a transfer may use, and the protocols a redirect may use, to `http` and `https`.
/// Exists: libcurl 7.85 replaced the bitmask options `CURLOPT_PROTOCOLS`/`CURLOPT_REDIR_PROTOCOLS` with the string
/// options `CURLOPT_PROTOCOLS_STR`/`CURLOPT_REDIR_PROTOCOLS_STR` and deprecated the old ones; this picks the right
/// pair for the libcurl it is compiled against, so Swift sees neither a missing symbol nor a deprecation warning.
CURLcode CCurlShims_easy_restrict_to_http(CURL *handle);

/// `curl_easy_getinfo` for infos that return a `long` (`CURLINFO_LONG`). Exists: the call is variadic.
CURLcode CCurlShims_easy_getinfo_long(CURL *handle, CURLINFO info, long *value);

/// `curl_multi_setopt` for options that take a `long`. Exists: the call is variadic.
CURLMcode CCurlShims_multi_setopt_long(CURLM *multi, CURLMoption option, long value);

#pragma clang assume_nonnull end

#endif
