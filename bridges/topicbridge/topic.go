package topicbridge

import (
	"fmt"
	"strings"
)

// MaxTopicLen bounds a topic name in a route.
const MaxTopicLen = 256

// TopicName checks a global topic name, as ROS 1 and ROS 2 share them:
// segments of [A-Za-z0-9_] separated by '/', none starting with a digit; a
// leading '/' is added. It returns the name with its leading '/'.
func TopicName(s string) (string, error) {
	if s == "" || len(s) > MaxTopicLen {
		return "", fmt.Errorf("topic must be 1..%d bytes", MaxTopicLen)
	}
	if s[0] != '/' {
		s = "/" + s
	}
	for _, seg := range strings.Split(s[1:], "/") {
		if seg == "" {
			return "", fmt.Errorf("empty segment in %q", s)
		}
		if c := seg[0]; c >= '0' && c <= '9' {
			return "", fmt.Errorf("segment %q starts with a digit", seg)
		}
		for _, c := range seg {
			if !(c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
				return "", fmt.Errorf("bad character %q in topic %q", c, s)
			}
		}
	}
	return s, nil
}
