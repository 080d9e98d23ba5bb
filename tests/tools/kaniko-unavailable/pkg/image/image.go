// Package image holds the hook the lifecycle overrides; it is never called here.
package image

import (
	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/osscontainertools/kaniko/pkg/config"
)

var RetrieveRemoteImage func(image string, opts config.RegistryOptions, customPlatform string) (v1.Image, error)
