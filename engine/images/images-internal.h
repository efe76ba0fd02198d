/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * engine/images/: CRIU's image files.  reader.c decodes each image CRIU writes into plain structs
 * (the only file here that sees protobuf-c; reader.h); set.c gives one view of a checkpoint's files
 * wherever they are: an archive read as a stream, an extracted archive, or a CRIU image directory
 * (set.h).  The layers above include this header.
 */
#ifndef STASIS_ENGINE_IMAGES_INTERNAL_H
#define STASIS_ENGINE_IMAGES_INTERNAL_H

#include "engine/images/reader.h"
#include "engine/images/set.h"

#endif
