// Package config mirrors the few kaniko option types the lifecycle refers to.
package config

import "time"

// KanikoDir is where kaniko keeps its state; unused here.
var KanikoDir = "/kaniko"

type CacheOptions struct {
	CacheTTL time.Duration
}

type RegistryOptions struct{}

type KanikoOptions struct {
	BuildArgs         []string
	Cache             bool
	CacheOptions      CacheOptions
	CacheRunLayers    bool
	CacheCopyLayers   bool
	CacheRepo         string
	Cleanup           bool
	CustomPlatform    string
	DockerfilePath    string
	IgnorePaths       []string
	IgnoreVarRun      bool
	InitialFSUnpacked bool
	NoPush            bool
	Reproducible      bool
	SnapshotMode      string
	SrcContext        string
}
