/*
 * kustomize_edit.h - what an application asks of kustomize, as Argo CD's
 * kustomize source options say it (render.h's target options,
 * "kustomize"): namePrefix, nameSuffix, namespace, images, commonLabels,
 * commonAnnotations, replicas, components and patches.
 *
 * Argo CD runs `kustomize edit set ...` on the kustomization before it
 * builds; plumb makes the same edits to the kustomization in the private
 * copy (never in the repository): a name prefix, suffix or namespace
 * replaces the one written, an image or replica count replaces the entry
 * of its name or is added, labels and annotations are merged over those
 * written, components and patches are added after them.
 *
 * Every kustomization built is also asked for origin annotations
 * (buildMetadata: [originAnnotations]), so that each object says the file
 * it was written in (PLUMB_KUSTOMIZE_ORIGIN); the loader reads that and
 * takes it out of the object.
 */
#ifndef PLUMB_RENDER_KUSTOMIZE_EDIT_H
#define PLUMB_RENDER_KUSTOMIZE_EDIT_H

#include "render/job.h"
#include "util/diag.h"

#define PLUMB_KUSTOMIZE_ORIGIN "config.kubernetes.io/origin"

/* The components job->options add, as written (relative to the folder), into args. */
void plumb_kustomize_components(plumb_render_args *args, const plumb_render_job *job);

/*
 * Edit the kustomization in folder (the job's folder in the copy, absolute)
 * as job->options ask, and ask it for origin annotations. Returns 0, or
 * PLUMB_EINVALID with a diagnostic at where (the kustomization does not
 * parse), or another code with the message in the error slot.
 */
int plumb_kustomize_edit(const plumb_render_job *job, const char *folder, plumb_position where, plumb_diags *diags);

#endif
