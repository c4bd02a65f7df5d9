int CCurlShims_placeholder(void) { return 0; }
