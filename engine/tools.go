//go:build tools

// Package engine pins the OpenTofu CLI that the tests, the preflight and the
// rehearsal run (make engine); it has no code of its own.
package engine

import _ "github.com/opentofu/opentofu/cmd/tofu"
