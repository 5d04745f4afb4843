/* ui.h - the ncurses view: Flows and Processes tabs, keys, help, filter prompt. */
#ifndef FLOWTOP_UI_H
#define FLOWTOP_UI_H

#include "app.h"

/* Enter curses mode. Returns 0 or -1 with one line in err. */
int ui_init(struct app *a, char *err, size_t len);
/* Leave curses mode; safe to call twice. */
void ui_fini(void);
/* stdin is readable: handle every pending key. May set a->quit. */
void ui_input(struct app *a);
/* The terminal size changed (SIGWINCH). */
void ui_resize(struct app *a);
/* Redraw from the model (rows must be built by model_view_build). */
void ui_draw(struct app *a);
/* True when the view options changed and the rows need a rebuild. */
bool ui_view_dirty(void);

#endif
