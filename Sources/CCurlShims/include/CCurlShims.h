#ifndef CCURLSHIMS_H
#define CCURLSHIMS_H
// Placeholder: typed wrappers for libcurl's variadic calls come with the curl transport.
int CCurlShims_placeholder(void);
#endif
