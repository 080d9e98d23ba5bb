// Package util keeps the ignore-list entry point the lifecycle calls before a build.
package util

type IgnoreListEntry struct {
	Path            string
	PrefixMatchOnly bool
}

var ignoreList []IgnoreListEntry

func AddToDefaultIgnoreList(e IgnoreListEntry) { ignoreList = append(ignoreList, e) }
