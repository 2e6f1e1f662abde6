/* A shared library without the streamgate_plugin symbol: refused as "not a streamgate plugin". */
int not_a_plugin(void);
int not_a_plugin(void) { return 1; }
