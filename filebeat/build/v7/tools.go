//go:build tools

// Package tools only pins the Filebeat command in go.mod/go.sum; it is never compiled.
// Build with: go build -trimpath -ldflags="-s -w" -o BIN github.com/elastic/beats/v7/filebeat
package tools

import _ "github.com/elastic/beats/v7/filebeat"
