// types.hpp — the registry of ROS 2 message types the peer speaks, and the
// Fast DDS type support that keeps each received sample's serialized bytes.
#pragma once

#include <cstdint>
#include <cstring>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <fastdds/dds/topic/TopicDataType.hpp>
#include <fastdds/rtps/common/SerializedPayload.h>

#include "json_msgs.hpp"
#include "ros2_typesPubSubTypes.h"

namespace sintpeer {

using eprosima::fastdds::dds::TopicDataType;
using eprosima::fastrtps::rtps::InstanceHandle_t;
using eprosima::fastrtps::rtps::SerializedPayload_t;

// Sample is what the peer's data readers and writers hold: the message and,
// for a received one, the serialized payload exactly as it arrived
// (encapsulation header included).
template <class T>
struct Sample {
    T value;
    std::vector<uint8_t> raw;
};

// undecodable_hook, when set, is told of every received payload the type
// support could not deserialize (the sample is then dropped by Fast DDS).
inline std::function<void(const std::vector<uint8_t>&)>& undecodable_hook()
{
    static std::function<void(const std::vector<uint8_t>&)> hook;
    return hook;
}

// CaptureType is the fastddsgen type support of T (same DDS type name, same
// serialization), over Sample<T>: deserialize records the payload it was
// given. A payload the generated code cannot read, for whatever exception,
// is refused (the sample is dropped), never half-read.
template <class T, class PS>
class CaptureType : public TopicDataType {
public:
    explicit CaptureType(const std::string& name_override = "")
    {
        setName(name_override.empty() ? inner_.getName() : name_override.c_str());
        m_typeSize = inner_.m_typeSize;
        m_isGetKeyDefined = false; // ROS 2 topics are keyless
    }

    bool serialize(void* data, SerializedPayload_t* payload) override
    {
        try {
            return inner_.serialize(&static_cast<Sample<T>*>(data)->value, payload);
        } catch (...) {
            return false;
        }
    }

    bool deserialize(SerializedPayload_t* payload, void* data) override
    {
        auto* s = static_cast<Sample<T>*>(data);
        s->raw.assign(payload->data, payload->data + payload->length);
        bool ok = false;
        try {
            ok = inner_.deserialize(payload, &s->value);
        } catch (...) {
            ok = false;
        }
        if (!ok && undecodable_hook()) {
            undecodable_hook()(s->raw);
        }
        return ok;
    }

    std::function<uint32_t()> getSerializedSizeProvider(void* data) override
    {
        return inner_.getSerializedSizeProvider(&static_cast<Sample<T>*>(data)->value);
    }

    void* createData() override { return new Sample<T>(); }

    void deleteData(void* data) override { delete static_cast<Sample<T>*>(data); }

    bool getKey(void*, InstanceHandle_t*, bool) override { return false; }

private:
    PS inner_;
};

// RawType publishes payloads given as bytes (encapsulation header
// included) under a message type's DDS name, unchecked: a hostile or broken
// node, for tests of what a reader does with bytes that are not a valid
// message. Samples are std::vector<uint8_t>.
class RawType : public TopicDataType {
public:
    RawType(const std::string& name, uint32_t type_size)
    {
        setName(name.c_str());
        m_typeSize = type_size;
        m_isGetKeyDefined = false;
    }

    bool serialize(void* data, SerializedPayload_t* payload) override
    {
        auto* b = static_cast<std::vector<uint8_t>*>(data);
        if (b->empty() || b->size() > payload->max_size) {
            return false;
        }
        memcpy(payload->data, b->data(), b->size());
        payload->length = static_cast<uint32_t>(b->size());
        payload->encapsulation = static_cast<uint16_t>((*b)[0] << 8 | (*b)[1]);
        return true;
    }

    bool deserialize(SerializedPayload_t* payload, void* data) override
    {
        static_cast<std::vector<uint8_t>*>(data)->assign(payload->data, payload->data + payload->length);
        return true;
    }

    std::function<uint32_t()> getSerializedSizeProvider(void* data) override
    {
        auto* b = static_cast<std::vector<uint8_t>*>(data);
        return [b]() { return static_cast<uint32_t>(b->size()); };
    }

    void* createData() override { return new std::vector<uint8_t>(); }

    void deleteData(void* data) override { delete static_cast<std::vector<uint8_t>*>(data); }

    bool getKey(void*, InstanceHandle_t*, bool) override { return false; }
};

// TypeOps is one ROS 2 message type: its DDS type support and its JSON form.
struct TypeOps {
    std::string ros_name; // geometry_msgs/msg/Twist
    // make_type returns the type support; a non-empty name replaces the
    // DDS type name (for tests of a peer that lies about its type).
    std::function<TopicDataType*(const std::string& name)> make_type;
    // from_json fills a sample made by make_type()->createData().
    std::function<void(const json&, void*)> from_json;
    std::function<json(const void*)> to_json;
    std::function<const std::vector<uint8_t>&(const void*)> raw;
};

template <class T, class PS>
TypeOps make_ops(const std::string& ros_name, std::function<void(T&)> defaults = nullptr)
{
    TypeOps o;
    o.ros_name = ros_name;
    o.make_type = [](const std::string& name) { return new CaptureType<T, PS>(name); };
    o.from_json = [defaults](const json& j, void* d) {
        auto* s = static_cast<Sample<T>*>(d);
        s->value = T();
        if (defaults) {
            defaults(s->value);
        }
        read(j, "", s->value);
    };
    o.to_json = [](const void* d) { return write(static_cast<const Sample<T>*>(d)->value); };
    o.raw = [](const void* d) -> const std::vector<uint8_t>& { return static_cast<const Sample<T>*>(d)->raw; };
    return o;
}

// all_types lists every message type the peer knows.
inline const std::vector<TypeOps>& all_types()
{
    namespace bi = builtin_interfaces::msg::dds_;
    namespace sm = std_msgs::msg::dds_;
    namespace gm = geometry_msgs::msg::dds_;
    namespace tm = trajectory_msgs::msg::dds_;
    static const std::vector<TypeOps> types = {
        make_ops<bi::Time_, bi::Time_PubSubType>("builtin_interfaces/msg/Time"),
        make_ops<bi::Duration_, bi::Duration_PubSubType>("builtin_interfaces/msg/Duration"),
        make_ops<sm::Header_, sm::Header_PubSubType>("std_msgs/msg/Header"),
        make_ops<sm::Bool_, sm::Bool_PubSubType>("std_msgs/msg/Bool"),
        make_ops<sm::String_, sm::String_PubSubType>("std_msgs/msg/String"),
        make_ops<sm::MultiArrayDimension_, sm::MultiArrayDimension_PubSubType>("std_msgs/msg/MultiArrayDimension"),
        make_ops<sm::MultiArrayLayout_, sm::MultiArrayLayout_PubSubType>("std_msgs/msg/MultiArrayLayout"),
        make_ops<sm::Float64MultiArray_, sm::Float64MultiArray_PubSubType>("std_msgs/msg/Float64MultiArray"),
        make_ops<gm::Vector3_, gm::Vector3_PubSubType>("geometry_msgs/msg/Vector3"),
        make_ops<gm::Twist_, gm::Twist_PubSubType>("geometry_msgs/msg/Twist"),
        make_ops<gm::TwistStamped_, gm::TwistStamped_PubSubType>("geometry_msgs/msg/TwistStamped"),
        make_ops<gm::Wrench_, gm::Wrench_PubSubType>("geometry_msgs/msg/Wrench"),
        make_ops<gm::Point_, gm::Point_PubSubType>("geometry_msgs/msg/Point"),
        make_ops<gm::Quaternion_, gm::Quaternion_PubSubType>("geometry_msgs/msg/Quaternion",
                [](gm::Quaternion_& q) { q.w_(1.0); }),
        make_ops<gm::Pose_, gm::Pose_PubSubType>("geometry_msgs/msg/Pose",
                [](gm::Pose_& p) { p.orientation_().w_(1.0); }),
        make_ops<gm::PoseStamped_, gm::PoseStamped_PubSubType>("geometry_msgs/msg/PoseStamped",
                [](gm::PoseStamped_& p) { p.pose_().orientation_().w_(1.0); }),
        make_ops<tm::JointTrajectoryPoint_, tm::JointTrajectoryPoint_PubSubType>(
                "trajectory_msgs/msg/JointTrajectoryPoint"),
        make_ops<tm::JointTrajectory_, tm::JointTrajectory_PubSubType>("trajectory_msgs/msg/JointTrajectory"),
    };
    return types;
}

// find_type accepts "pkg/msg/Name" and the short "pkg/Name"; nullptr when
// the type is unknown.
inline const TypeOps* find_type(const std::string& name)
{
    std::string full = name;
    auto first = name.find('/');
    if (first != std::string::npos && name.find('/', first + 1) == std::string::npos) {
        full = name.substr(0, first) + "/msg/" + name.substr(first + 1);
    }
    for (const auto& t : all_types()) {
        if (t.ros_name == full) {
            return &t;
        }
    }
    return nullptr;
}

} // namespace sintpeer
