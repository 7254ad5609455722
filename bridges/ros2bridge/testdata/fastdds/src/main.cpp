// sint-fastdds-peer — a Fast DDS node set up like a ROS 2 node (rmw_fastrtps),
// the real peer sintgate's ROS 2 bridge is tested against.
//
//   sint-fastdds-peer pub --topic /cmd_vel --type geometry_msgs/msg/Twist [options]
//       one JSON message per stdin line, published; stdout (JSON lines):
//       {"event":"matched","count":N}        on every change of matched readers
//       {"event":"sent","t_ns":T}            per message, T = CLOCK_REALTIME just before write
//       {"event":"error","message":"..."}    per line that is not a valid message
//       At end of input it waits (≤ 3 s) for reliable readers to acknowledge, then exits.
//       With --raw each line is a payload in hex (encapsulation header
//       included), published as is, unchecked: a broken or hostile node.
//   sint-fastdds-peer sub --topic /cmd_vel --type geometry_msgs/msg/Twist [options]
//       {"event":"matched","count":N}
//       {"event":"msg","t_ns":T,"src_t_ns":S,"data":{...},"cdr":"hex"}  per sample,
//       T = CLOCK_REALTIME at receipt, S = the writer's source timestamp, cdr =
//       the serialized payload as received, encapsulation header included.
//       {"event":"undecodable","t_ns":T,"cdr":"hex"}  per payload that is not
//       a valid message of the type (Fast DDS drops it).
//       Exits at end of stdin, or on SIGINT/SIGTERM.
//   pub and sub also print, for every remote endpoint of their DDS topic
//   that discovery announces:
//       {"event":"discovered","kind":"reader"|"writer","user_data":"hex"}
//   sint-fastdds-peer encode --type T    JSON lines in -> hex CDR lines out
//   sint-fastdds-peer decode --type T    hex CDR lines in -> JSON lines out
//   sint-fastdds-peer types              the known types, one per line
//
// Options: --domain N (default $ROS_DOMAIN_ID, else 0), --best-effort
// (default reliable), --transient-local (default volatile), --depth N (keep-last depth, default 10), --loopback
// (UDP on 127.0.0.1 only with unicast discovery there, no shared memory;
// also when ROS_LOCALHOST_ONLY=1), --dds-topic NAME (the DDS topic name
// verbatim, without the ROS 2 "rt/" mapping), --node NAME (participant name,
// default "/", the enclave name rmw_fastrtps gives its participant),
// --type-hash H (announce "typehash=H;" in the endpoint's USER_DATA, as
// rmw_fastrtps does from Iron on; default none, as Humble),
// --dds-type NAME (announce this DDS type name instead of the type's own:
// a node that lies about its type), --raw (pub only, see above).
//
// Exit status: 0 done, 1 a runtime failure, 2 a usage error; encode/decode
// exit 1 at the first input they cannot convert (message on stderr).

#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <iostream>
#include <memory>
#include <mutex>
#include <string>
#include <unistd.h>

#include <fastdds/dds/domain/DomainParticipant.hpp>
#include <fastdds/dds/domain/DomainParticipantFactory.hpp>
#include <fastdds/dds/domain/DomainParticipantListener.hpp>
#include <fastdds/dds/domain/qos/DomainParticipantQos.hpp>
#include <fastdds/dds/publisher/DataWriter.hpp>
#include <fastdds/dds/publisher/DataWriterListener.hpp>
#include <fastdds/dds/publisher/Publisher.hpp>
#include <fastdds/dds/publisher/qos/DataWriterQos.hpp>
#include <fastdds/dds/publisher/qos/PublisherQos.hpp>
#include <fastdds/dds/subscriber/DataReader.hpp>
#include <fastdds/dds/subscriber/DataReaderListener.hpp>
#include <fastdds/dds/subscriber/SampleInfo.hpp>
#include <fastdds/dds/subscriber/Subscriber.hpp>
#include <fastdds/dds/subscriber/qos/DataReaderQos.hpp>
#include <fastdds/dds/subscriber/qos/SubscriberQos.hpp>
#include <fastdds/dds/topic/Topic.hpp>
#include <fastdds/dds/topic/TypeSupport.hpp>
#include <fastdds/dds/topic/qos/TopicQos.hpp>
#include <fastdds/rtps/transport/UDPv4TransportDescriptor.h>
#include <fastrtps/utils/IPLocator.h>

#include "types.hpp"

namespace fdds = eprosima::fastdds::dds;
using eprosima::fastrtps::rtps::IPLocator;
using eprosima::fastrtps::rtps::Locator_t;
using sintpeer::json;
using sintpeer::TypeOps;

namespace {

std::mutex out_mu;
std::atomic<bool> stopping{false};

// emit prints one JSON line on stdout and flushes it: the Go side reads
// events as they happen.
void emit(const json& j)
{
    std::string line = j.dump(-1, ' ', false, json::error_handler_t::replace);
    line.push_back('\n');
    std::lock_guard<std::mutex> lk(out_mu);
    fwrite(line.data(), 1, line.size(), stdout);
    fflush(stdout);
}

int64_t now_ns()
{
    timespec ts{};
    clock_gettime(CLOCK_REALTIME, &ts);
    return static_cast<int64_t>(ts.tv_sec) * 1000000000LL + ts.tv_nsec;
}

[[noreturn]] void usage(const std::string& msg)
{
    std::cerr << "sint-fastdds-peer: " << msg << "\n"
              << "usage: sint-fastdds-peer pub|sub --topic /name --type pkg/msg/Name [--domain N]"
                 " [--best-effort] [--transient-local] [--depth N] [--loopback] [--dds-topic NAME] [--node NAME] [--type-hash H]\n"
              << "       sint-fastdds-peer encode|decode --type pkg/msg/Name\n"
              << "       sint-fastdds-peer types\n";
    exit(2);
}

struct Options {
    std::string mode;
    std::string topic;
    std::string dds_topic;
    std::string type;
    std::string dds_type;
    std::string node = "/";
    std::string type_hash;
    bool raw = false;
    int domain = -1;
    bool best_effort = false;
    bool transient_local = false;
    int depth = 10;
    bool loopback = false;
};

int parse_int(const std::string& flag, const char* v, int lo, int hi)
{
    char* end = nullptr;
    errno = 0;
    long n = strtol(v, &end, 10);
    if (errno != 0 || end == v || *end != '\0' || n < lo || n > hi) {
        usage(flag + ": want an integer in [" + std::to_string(lo) + ", " + std::to_string(hi) + "]");
    }
    return static_cast<int>(n);
}

Options parse_args(int argc, char** argv)
{
    if (argc < 2) {
        usage("missing mode");
    }
    Options o;
    o.mode = argv[1];
    for (int i = 2; i < argc; i++) {
        std::string a = argv[i];
        auto value = [&]() -> const char* {
            if (i + 1 >= argc) {
                usage(a + " needs a value");
            }
            return argv[++i];
        };
        if (a == "--topic") {
            o.topic = value();
        } else if (a == "--dds-topic") {
            o.dds_topic = value();
        } else if (a == "--type") {
            o.type = value();
        } else if (a == "--dds-type") {
            o.dds_type = value();
        } else if (a == "--type-hash") {
            o.type_hash = value();
        } else if (a == "--raw") {
            o.raw = true;
        } else if (a == "--node") {
            o.node = value();
        } else if (a == "--domain") {
            o.domain = parse_int(a, value(), 0, 232);
        } else if (a == "--depth") {
            o.depth = parse_int(a, value(), 1, 100000);
        } else if (a == "--best-effort") {
            o.best_effort = true;
        } else if (a == "--transient-local") {
            o.transient_local = true;
        } else if (a == "--reliable") {
            o.best_effort = false;
        } else if (a == "--loopback") {
            o.loopback = true;
        } else {
            usage("unknown argument " + a);
        }
    }
    if (o.domain < 0) {
        const char* env = getenv("ROS_DOMAIN_ID");
        o.domain = (env && *env) ? parse_int("ROS_DOMAIN_ID", env, 0, 232) : 0;
    }
    if (const char* lo = getenv("ROS_LOCALHOST_ONLY"); lo && std::string(lo) == "1") {
        o.loopback = true;
    }
    return o;
}

// dds_topic_name maps a ROS 2 topic to its DDS topic as rmw_fastrtps does:
// "/cmd_vel" and "cmd_vel" (relative to the root namespace) -> "rt/cmd_vel".
std::string dds_topic_name(const Options& o)
{
    if (!o.dds_topic.empty()) {
        return o.dds_topic;
    }
    if (o.topic.empty()) {
        usage("--topic is required");
    }
    std::string t = o.topic;
    if (t[0] == '/') {
        t = t.substr(1);
    }
    if (t.empty() || t.back() == '/' || t.find("//") != std::string::npos) {
        usage("invalid topic name " + o.topic);
    }
    return "rt/" + t;
}

const TypeOps& need_type(const Options& o)
{
    if (o.type.empty()) {
        usage("--type is required");
    }
    const TypeOps* t = sintpeer::find_type(o.type);
    if (!t) {
        usage("unknown type " + o.type + " (see: sint-fastdds-peer types)");
    }
    return *t;
}

// read_line reads one line from fd 0 (without the newline); false at end of
// input or when a signal asked the peer to stop.
bool read_line(std::string& line)
{
    static std::string buf;
    static bool eof = false;
    line.clear();
    for (;;) {
        auto nl = buf.find('\n');
        if (nl != std::string::npos) {
            line = buf.substr(0, nl);
            buf.erase(0, nl + 1);
            if (!line.empty() && line.back() == '\r') {
                line.pop_back();
            }
            return true;
        }
        if (eof || stopping.load()) {
            if (!buf.empty() && !stopping.load()) {
                line.swap(buf);
                buf.clear();
                return true;
            }
            return false;
        }
        char chunk[65536];
        ssize_t n = read(0, chunk, sizeof chunk);
        if (n > 0) {
            buf.append(chunk, static_cast<size_t>(n));
        } else if (n == 0) {
            eof = true;
        } else if (errno != EINTR) {
            eof = true;
        }
    }
}

void on_signal(int)
{
    stopping.store(true);
}

void install_signals()
{
    struct sigaction sa {};
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = 0; // no SA_RESTART: a blocked read returns EINTR
    sigaction(SIGINT, &sa, nullptr);
    sigaction(SIGTERM, &sa, nullptr);
    signal(SIGPIPE, SIG_IGN);
}

std::string hex(const std::vector<uint8_t>& b)
{
    static const char digits[] = "0123456789abcdef";
    std::string s;
    s.reserve(b.size() * 2);
    for (uint8_t c : b) {
        s.push_back(digits[c >> 4]);
        s.push_back(digits[c & 15]);
    }
    return s;
}

std::vector<uint8_t> unhex(const std::string& s)
{
    auto val = [](char c) -> int {
        if (c >= '0' && c <= '9') {
            return c - '0';
        }
        if (c >= 'a' && c <= 'f') {
            return c - 'a' + 10;
        }
        if (c >= 'A' && c <= 'F') {
            return c - 'A' + 10;
        }
        return -1;
    };
    std::string h;
    for (char c : s) {
        if (c != ' ' && c != '\t') {
            h.push_back(c);
        }
    }
    if (h.size() % 2 != 0) {
        throw std::runtime_error("odd number of hex digits");
    }
    std::vector<uint8_t> out;
    for (size_t i = 0; i < h.size(); i += 2) {
        int a = val(h[i]), b = val(h[i + 1]);
        if (a < 0 || b < 0) {
            throw std::runtime_error("not hex");
        }
        out.push_back(static_cast<uint8_t>(a << 4 | b));
    }
    return out;
}

// ------------------------------------------------------------- DDS setup ---

// Node holds the entities of one publisher or subscriber.
struct Node {
    fdds::DomainParticipant* participant = nullptr;
    fdds::TypeSupport type;
    fdds::Topic* topic = nullptr;
    fdds::Publisher* publisher = nullptr;
    fdds::Subscriber* subscriber = nullptr;
    fdds::DataWriter* writer = nullptr;
    fdds::DataReader* reader = nullptr;

    ~Node()
    {
        if (participant) {
            participant->delete_contained_entities();
            fdds::DomainParticipantFactory::get_instance()->delete_participant(participant);
        }
    }
};

// DiscoveryListener reports the USER_DATA of every remote endpoint of the
// node's DDS topic that discovery announces (a ROS 2 Iron node's
// "typehash=…;"): what the other side put on the wire.
class DiscoveryListener : public fdds::DomainParticipantListener {
public:
    std::string topic;

    void on_subscriber_discovery(fdds::DomainParticipant*, eprosima::fastrtps::rtps::ReaderDiscoveryInfo&& info) override
    {
        if (info.status == eprosima::fastrtps::rtps::ReaderDiscoveryInfo::DISCOVERED_READER &&
                info.info.topicName().to_string() == topic) {
            emit(json{{"event", "discovered"}, {"kind", "reader"}, {"user_data", hex(info.info.m_qos.m_userData.data_vec())}});
        }
    }

    void on_publisher_discovery(fdds::DomainParticipant*, eprosima::fastrtps::rtps::WriterDiscoveryInfo&& info) override
    {
        if (info.status == eprosima::fastrtps::rtps::WriterDiscoveryInfo::DISCOVERED_WRITER &&
                info.info.topicName().to_string() == topic) {
            emit(json{{"event", "discovered"}, {"kind", "writer"}, {"user_data", hex(info.info.m_qos.m_userData.data_vec())}});
        }
    }
};

// discovery outlives every participant (it is its listener).
DiscoveryListener discovery;

// make_participant creates a participant configured as rmw_fastrtps
// configures a ROS 2 context's: named after the enclave, USER_DATA
// "enclave=<name>;", and, for a localhost-only setup, UDPv4 on 127.0.0.1
// with 127.0.0.1 and the discovery multicast group as initial discovery
// peers (no shared memory).
void make_participant(Node& n, const Options& o)
{
    fdds::DomainParticipantQos q = fdds::PARTICIPANT_QOS_DEFAULT;
    q.name(o.node);
    std::string ud = "enclave=" + o.node + ";";
    q.user_data().setValue(std::vector<eprosima::fastrtps::rtps::octet>(ud.begin(), ud.end()));
    if (o.loopback) {
        q.transport().use_builtin_transports = false;
        auto udp = std::make_shared<eprosima::fastdds::rtps::UDPv4TransportDescriptor>();
        udp->interfaceWhiteList.push_back("127.0.0.1");
        udp->maxInitialPeersRange = 32;
        q.transport().user_transports.push_back(udp);
        Locator_t peer;
        peer.kind = LOCATOR_KIND_UDPv4;
        IPLocator::setIPv4(peer, 127, 0, 0, 1);
        q.wire_protocol().builtin.initialPeersList.push_back(peer);
        // An initial peers list replaces the default one, which is the
        // discovery multicast group: keep announcing there too (on the
        // loopback interface, the only one allowed), or a DDS that listens
        // on multicast but not on well-known unicast ports (Cyclone DDS,
        // whose participant ports are ephemeral unless configured) only
        // finds this participant when its own periodic announcement comes.
        Locator_t group;
        group.kind = LOCATOR_KIND_UDPv4;
        IPLocator::setIPv4(group, 239, 255, 0, 1);
        group.port = 7400 + 250 * static_cast<uint32_t>(o.domain); // RTPS PB + DG * domain + d0
        q.wire_protocol().builtin.initialPeersList.push_back(group);
    }
    discovery.topic = dds_topic_name(o);
    // No status through the participant listener (the endpoints' own
    // listeners keep theirs); discovery callbacks are not statuses.
    n.participant = fdds::DomainParticipantFactory::get_instance()->create_participant(o.domain, q, &discovery,
            fdds::StatusMask::none());
    if (!n.participant) {
        throw std::runtime_error("cannot create a DDS participant on domain " + std::to_string(o.domain));
    }
}

void make_topic(Node& n, const Options& o, const TypeOps& t)
{
    if (o.raw) {
        std::unique_ptr<sintpeer::TopicDataType> real(t.make_type(""));
        std::string name = o.dds_type.empty() ? real->getName() : o.dds_type;
        n.type = fdds::TypeSupport(new sintpeer::RawType(name, real->m_typeSize));
    } else {
        n.type = fdds::TypeSupport(t.make_type(o.dds_type));
    }
    if (n.type.register_type(n.participant) != ReturnCode_t::RETCODE_OK) {
        throw std::runtime_error("cannot register type " + n.type.get_type_name());
    }
    std::string name = dds_topic_name(o);
    n.topic = n.participant->create_topic(name, n.type.get_type_name(), fdds::TOPIC_QOS_DEFAULT);
    if (!n.topic) {
        throw std::runtime_error("cannot create topic " + name);
    }
}

class WriterListener : public fdds::DataWriterListener {
public:
    void on_publication_matched(fdds::DataWriter*, const fdds::PublicationMatchedStatus& info) override
    {
        emit(json{{"event", "matched"}, {"count", info.current_count}});
    }
};

class ReaderListener : public fdds::DataReaderListener {
public:
    explicit ReaderListener(const TypeOps& t, fdds::TypeSupport& ts) : t_(t), ts_(ts) {}

    void on_subscription_matched(fdds::DataReader*, const fdds::SubscriptionMatchedStatus& info) override
    {
        emit(json{{"event", "matched"}, {"count", info.current_count}});
    }

    void on_data_available(fdds::DataReader* reader) override
    {
        void* sample = ts_->createData();
        fdds::SampleInfo info;
        while (reader->take_next_sample(sample, &info) == ReturnCode_t::RETCODE_OK) {
            int64_t at = now_ns();
            if (!info.valid_data) {
                continue;
            }
            json j;
            j["event"] = "msg";
            j["t_ns"] = at;
            j["src_t_ns"] = info.source_timestamp.to_ns();
            j["data"] = t_.to_json(sample);
            j["cdr"] = hex(t_.raw(sample));
            emit(j);
        }
        ts_->deleteData(sample);
    }

private:
    const TypeOps& t_;
    fdds::TypeSupport& ts_;
};

// set_endpoint_qos: the ROS 2 default profile (reliable, volatile,
// keep-last 10) unless the options say otherwise.
template <class Q>
void set_endpoint_qos(Q& q, const Options& o)
{
    q.reliability().kind = o.best_effort ? fdds::BEST_EFFORT_RELIABILITY_QOS : fdds::RELIABLE_RELIABILITY_QOS;
    q.durability().kind = o.transient_local ? fdds::TRANSIENT_LOCAL_DURABILITY_QOS : fdds::VOLATILE_DURABILITY_QOS;
    q.history().kind = fdds::KEEP_LAST_HISTORY_QOS;
    q.history().depth = o.depth;
    q.endpoint().history_memory_policy = eprosima::fastrtps::rtps::PREALLOCATED_WITH_REALLOC_MEMORY_MODE;
    q.data_sharing().off();
    if (!o.type_hash.empty()) {
        std::string ud = "typehash=" + o.type_hash + ";";
        q.user_data().setValue(std::vector<eprosima::fastrtps::rtps::octet>(ud.begin(), ud.end()));
    }
}

int run_pub(const Options& o)
{
    const TypeOps& t = need_type(o);
    Node n;
    make_participant(n, o);
    make_topic(n, o, t);
    n.publisher = n.participant->create_publisher(fdds::PUBLISHER_QOS_DEFAULT);
    if (!n.publisher) {
        throw std::runtime_error("cannot create publisher");
    }
    fdds::DataWriterQos wq = fdds::DATAWRITER_QOS_DEFAULT;
    set_endpoint_qos(wq, o);
    wq.publish_mode().kind = fdds::SYNCHRONOUS_PUBLISH_MODE;
    WriterListener listener;
    n.writer = n.publisher->create_datawriter(n.topic, wq, &listener, fdds::StatusMask::publication_matched());
    if (!n.writer) {
        throw std::runtime_error("cannot create data writer");
    }
    void* sample = n.type->createData();
    std::string line;
    while (read_line(line)) {
        // A blank line is no message, but in raw mode it is an empty
        // payload, which gets its answer (an error) like any other line.
        if (!o.raw && line.find_first_not_of(" \t") == std::string::npos) {
            continue;
        }
        try {
            if (o.raw) {
                *static_cast<std::vector<uint8_t>*>(sample) = unhex(line);
            } else {
                t.from_json(json::parse(line), sample);
            }
        } catch (const std::exception& e) {
            emit(json{{"event", "error"}, {"message", e.what()}});
            continue;
        }
        int64_t at = now_ns();
        if (!n.writer->write(sample)) {
            emit(json{{"event", "error"}, {"message", "write failed"}});
            continue;
        }
        emit(json{{"event", "sent"}, {"t_ns", at}});
    }
    if (!o.best_effort && !stopping.load()) {
        n.writer->wait_for_acknowledgments(eprosima::fastrtps::Duration_t(3, 0));
    }
    n.type->deleteData(sample);
    n.writer->set_listener(nullptr);
    return 0;
}

int run_sub(const Options& o)
{
    const TypeOps& t = need_type(o);
    if (o.raw) {
        usage("--raw is for pub");
    }
    sintpeer::undecodable_hook() = [](const std::vector<uint8_t>& raw) {
        emit(json{{"event", "undecodable"}, {"t_ns", now_ns()}, {"cdr", hex(raw)}});
    };
    Node n;
    make_participant(n, o);
    make_topic(n, o, t);
    n.subscriber = n.participant->create_subscriber(fdds::SUBSCRIBER_QOS_DEFAULT);
    if (!n.subscriber) {
        throw std::runtime_error("cannot create subscriber");
    }
    fdds::DataReaderQos rq = fdds::DATAREADER_QOS_DEFAULT;
    set_endpoint_qos(rq, o);
    ReaderListener listener(t, n.type);
    n.reader = n.subscriber->create_datareader(n.topic, rq, &listener,
            fdds::StatusMask::subscription_matched() << fdds::StatusMask::data_available());
    if (!n.reader) {
        throw std::runtime_error("cannot create data reader");
    }
    std::string line;
    while (read_line(line)) {
        // Input is ignored: the subscriber runs until stdin closes.
    }
    n.reader->set_listener(nullptr);
    n.subscriber->delete_datareader(n.reader);
    n.reader = nullptr;
    return 0;
}


int run_encode(const Options& o)
{
    const TypeOps& t = need_type(o);
    std::unique_ptr<sintpeer::TopicDataType> ts(t.make_type(""));
    void* sample = ts->createData();
    std::string line;
    int rc = 0;
    while (read_line(line)) {
        if (line.find_first_not_of(" \t") == std::string::npos) {
            continue;
        }
        try {
            t.from_json(json::parse(line), sample);
            uint32_t size = ts->getSerializedSizeProvider(sample)();
            sintpeer::SerializedPayload_t payload(size);
            if (!ts->serialize(sample, &payload)) {
                throw std::runtime_error("serialization failed");
            }
            std::vector<uint8_t> b(payload.data, payload.data + payload.length);
            std::string h = hex(b) + "\n";
            fwrite(h.data(), 1, h.size(), stdout);
            fflush(stdout);
        } catch (const std::exception& e) {
            std::cerr << "sint-fastdds-peer: encode: " << e.what() << "\n";
            rc = 1;
            break;
        }
    }
    ts->deleteData(sample);
    return rc;
}

int run_decode(const Options& o)
{
    const TypeOps& t = need_type(o);
    std::unique_ptr<sintpeer::TopicDataType> ts(t.make_type(""));
    void* sample = ts->createData();
    std::string line;
    int rc = 0;
    while (read_line(line)) {
        if (line.find_first_not_of(" \t") == std::string::npos) {
            continue;
        }
        try {
            std::vector<uint8_t> b = unhex(line);
            if (b.size() < 4) {
                throw std::runtime_error("shorter than the encapsulation header");
            }
            sintpeer::SerializedPayload_t payload(static_cast<uint32_t>(b.size()));
            memcpy(payload.data, b.data(), b.size());
            payload.length = static_cast<uint32_t>(b.size());
            if (!ts->deserialize(&payload, sample)) {
                throw std::runtime_error("payload does not decode as " + t.ros_name);
            }
            emit(t.to_json(sample));
        } catch (const std::exception& e) {
            std::cerr << "sint-fastdds-peer: decode: " << e.what() << "\n";
            rc = 1;
            break;
        }
    }
    ts->deleteData(sample);
    return rc;
}

} // namespace

int main(int argc, char** argv)
{
    Options o = parse_args(argc, argv);
    install_signals();
    try {
        if (o.mode == "pub") {
            return run_pub(o);
        }
        if (o.mode == "sub") {
            return run_sub(o);
        }
        if (o.mode == "encode") {
            return run_encode(o);
        }
        if (o.mode == "decode") {
            return run_decode(o);
        }
        if (o.mode == "types") {
            for (const auto& t : sintpeer::all_types()) {
                std::cout << t.ros_name << "\n";
            }
            return 0;
        }
    } catch (const std::exception& e) {
        std::cerr << "sint-fastdds-peer: " << e.what() << "\n";
        return 1;
    }
    usage("unknown mode " + o.mode);
}
