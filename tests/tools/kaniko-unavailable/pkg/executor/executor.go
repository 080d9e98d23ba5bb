// Package executor refuses to build: image extension is not part of this lifecycle build.
package executor

import (
	"errors"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/osscontainertools/kaniko/pkg/config"
)

// DoBuild always fails: this lifecycle build has no Dockerfile extension support.
func DoBuild(_ *config.KanikoOptions) (v1.Image, error) {
	return nil, errors.New("image extension (kaniko) is not available in this lifecycle build")
}
