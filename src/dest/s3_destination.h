// The object-store destination: a DEST that is s3://BUCKET/PREFIX (see
// s3_destination.cc for its protocol).
//
// Thread safety: as include/valise/destination.h says.
#pragma once

#include <memory>
#include <string>

#include "valise/destination.h"
#include "valise/s3.h"

namespace valise {

// A Destination over `url` through `client`. `client` must remain live
// while the destination is.
std::unique_ptr<Destination> NewS3Destination(S3Client* client,
                                              const S3Url& url,
                                              const S3DestinationOptions& opt);

}  // namespace valise
