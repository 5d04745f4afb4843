/* output.h - the non-interactive renderers: JSON lines and plain-text batch snapshots. */
#ifndef FLOWTOP_OUTPUT_H
#define FLOWTOP_OUTPUT_H

#include <stdio.h>

#include "app.h"

/* One flow as one JSON object on one line; type is "flow", "new", "update" or "destroy". */
void json_flow(FILE *out, const struct app *a, const char *type, const struct flow *f);
/* The summary line. */
void json_summary(FILE *out, const struct app *a);
/* A plain-text snapshot of the current rows (like top -b). */
void batch_snapshot(FILE *out, const struct app *a, unsigned long iteration);
/* The view's flows by where they go (the remote end's country or AS), one JSON line each. */
#include "dest.h"
void json_destinations(FILE *out, const struct app *a, enum dest_by by);
/* Executable path of a live process whose comm matches, cached; NULL if unknown. */
const char *proc_exe(__u32 pid, const char *comm);

#endif
