// Stand-in for github.com/osscontainertools/kaniko, which the Go module proxy
// reachable from the build machines refuses to serve. The CNB lifecycle imports
// it only for the `extender` phase (Dockerfile image extensions), which locald
// never runs. The test tool build replaces the module with this one so the
// real analyzer/detector/restorer/builder/exporter and launcher compile.
// Every entry point fails loudly; nothing here pretends to extend an image.
module github.com/osscontainertools/kaniko

go 1.24

require github.com/google/go-containerregistry v0.21.9
