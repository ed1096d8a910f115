/*
 * spec.h - typed fields out of a manifest's YAML, with positions.
 *
 * A provider describes the fields of a kind's spec as a table; decoding
 * checks the spec against it and reports, with the position of each, every
 * unknown field, every value of the wrong type and every required field
 * that is missing. Providers never see the YAML library.
 */
#ifndef PLUMB_SPEC_H
#define PLUMB_SPEC_H

#include <stddef.h>

#include "util/common.h"
#include "util/diag.h"

/* A mapping in a manifest (e.g. "spec"), borrowed from the loader while it decodes. */
typedef struct plumb_spec plumb_spec;

typedef enum {
	PLUMB_FIELD_STRING, /* any scalar, as written (multi-line text included) */
	PLUMB_FIELD_MODE,   /* an octal permission mode, quoted or not: 644, "0644", 0o644 */
	PLUMB_FIELD_BOOL,   /* true or false */
	PLUMB_FIELD_INT,    /* a whole number */
	PLUMB_FIELD_LIST,   /* a list of strings */
	PLUMB_FIELD_MAP,    /* a mapping, decoded in turn with plumb_spec_decode (value.map) */
	PLUMB_FIELD_MAPS,   /* a list of mappings, each decoded in turn (value.maps) */
	PLUMB_FIELD_ANY,    /* any value, kept whole (value.map, for plumb_spec_json) */
} plumb_field_type;

#define PLUMB_FIELD_REQUIRED 1u

typedef struct {
	const char *name;
	plumb_field_type type;
	unsigned flags;
} plumb_field;

/* The decoded value of one field. */
typedef struct {
	int present;
	char *string;  /* STRING: the text (owned); MODE, BOOL: the scalar as written */
	size_t length; /* of string */
	unsigned mode; /* MODE */
	int boolean;   /* BOOL */
	long long integer; /* INT */
	char **list;   /* LIST: the strings (owned) */
	plumb_position *list_positions; /* LIST: where each is written (owned) */
	size_t list_count;
	plumb_spec *map; /* MAP: the nested mapping, borrowed from the spec it came from */
	plumb_spec **maps; /* MAPS: the mappings of the list ("spec.rules[0]", ...), as map */
	size_t map_count;
	plumb_position position;
} plumb_value;

/*
 * Decode spec against fields into values (values[i] for fields[i], zeroed
 * first). Every problem becomes a diagnostic; returns how many were added.
 */
unsigned plumb_spec_decode(plumb_value *values, const plumb_spec *spec, const plumb_field *fields, size_t count,
			   plumb_diags *diags);

/*
 * The same for a kind plumb reads another tool's way (an Argo CD
 * Application): a field not in fields is a warning naming it, not an error.
 */
unsigned plumb_spec_decode_known(plumb_value *values, const plumb_spec *spec, const plumb_field *fields, size_t count,
				 plumb_diags *diags);

void plumb_values_release(plumb_value *values, size_t count);

/*
 * The value spec holds, as compact JSON text (a plain scalar reading as a
 * boolean, null or whole number is one), owned by the caller; NULL when it
 * nests too deep.
 */
char *plumb_spec_json(const plumb_spec *spec);

/* One entry of a mapping whose keys are data rather than field names (a Secret's data). */
typedef struct {
	char *key;             /* owned */
	plumb_field_type type; /* PLUMB_FIELD_STRING for a scalar, _LIST for a list, _MAP for a mapping */
	/*
	 * The value's position and, for a mapping, map (named "NAME.KEY", or
	 * "KEY" in a whole document, to decode in turn). A scalar's text is not
	 * copied: it may be a value the caller must not hold.
	 */
	plumb_value value;
} plumb_spec_entry;

/*
 * The entries of spec, in the order written, into *out (*count of them;
 * none when spec is absent). A spec that is not a mapping, and a key that
 * is not a scalar, are diagnostics. Returns how many were added.
 */
unsigned plumb_spec_entries(plumb_spec_entry **out, size_t *count, const plumb_spec *spec, plumb_diags *diags);

void plumb_spec_entries_release(plumb_spec_entry *entries, size_t count);

/* Where the mapping starts, and its dotted name ("spec"). */
plumb_position plumb_spec_position(const plumb_spec *spec);
const char *plumb_spec_name(const plumb_spec *spec);

#endif
