// Package ros is a ROS 1 client library written for sintgate's ROS bridge:
// it registers a node with a ROS master, serves the node's slave XML-RPC API
// (what rosnode and rostopic query), and publishes and subscribes to topics
// over TCPROS.
//
// # Concepts
//
// A [Node] owns two loopback (or NodeConfig.Host) listeners: an HTTP server
// for the slave API (requestTopic, publisherUpdate, getBusStats, getBusInfo,
// getMasterUri, shutdown, getPid, getSubscriptions, getPublications,
// paramUpdate) and a TCPROS listener that subscribers connect to. A
// [Publisher] registers with the master and fans each message out to every
// connected subscriber; a [Subscriber] registers, connects to every
// publisher the master names, keeps following publisherUpdate calls, and
// reconnects with backoff when a connection drops. [Master] is the master
// API client (register/unregister, lookupNode, getSystemState,
// getTopicTypes).
//
// # Sub-packages
//
//   - msgs: message types, ROS 1 serialization, md5sums, full definitions,
//     JSON mapping.
//   - tcpros: connection header and frame codec.
//   - xmlrpc: XML-RPC codec (typed and untyped strings), client, handler.
//
// # Safety and limits
//
// Every peer is untrusted: connection headers are capped at
// tcpros.MaxHeaderSize, message frames at NodeConfig.MaxMessageSize, XML-RPC
// bodies at xmlrpc.MaxBodySize. A subscriber whose md5sum or type does not
// match the publisher's is refused on both sides. Messages that fail to
// decode are dropped and counted, never delivered.
//
// All methods are safe for concurrent use. Every method that waits takes a
// context; Node.Close unregisters from the master and tears everything down.
package ros
