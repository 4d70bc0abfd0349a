/*
 * shadowctl's subcommands: one entry each in the table of shadowctl.c.
 * Each takes the subcommand's own argv (argv[0] is the subcommand name) and
 * returns the process exit status: 0, 1 on an operational error, 2 on bad
 * usage.
 */
#ifndef ST_SHADOWCTL_H
#define ST_SHADOWCTL_H

#include "dataplane/compiler.h"

int shadowctl_analyze(int argc, char **argv);
int shadowctl_detect(int argc, char **argv);
int shadowctl_profiles(int argc, char **argv);
int shadowctl_status(int argc, char **argv);
/* views.c: the control plane's views, through shadowtap-cp's socket */
int shadowctl_cp_status(int argc, char **argv);
int shadowctl_streams(int argc, char **argv);
int shadowctl_cp_profile(int argc, char **argv);
int shadowctl_signals(int argc, char **argv);
int shadowctl_decisions(int argc, char **argv);
int shadowctl_backends(int argc, char **argv);
int shadowctl_top(int argc, char **argv);
int shadowctl_models(int argc, char **argv);
int shadowctl_config(int argc, char **argv);
/* routes.c: the actuators' tables read back from the kernel */
int shadowctl_routes(int argc, char **argv);

#endif
