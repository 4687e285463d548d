// Pins the version of SeaweedFS (Apache-2.0) that `pnpm stack up --s3` builds with `go build` into
// .stack/s3/bin/weed (infra/stack/src/s3.ts). Only a build manifest: no Go code of the project.
//go:build tools

package tools

import _ "github.com/seaweedfs/seaweedfs/weed"
