// json_msgs.hpp — ROS 2 message <-> JSON for the types of idl/ros2_types.idl,
// with ROS 2 field names (the DDS members carry a trailing underscore; JSON
// does not). Reading is strict: a key the message does not have, a value of
// the wrong JSON type or an integer out of its field's range is an error; a
// key that is absent keeps the ROS 2 default (zero, empty, and w = 1 for a
// Quaternion). Non-finite float64 values, which JSON cannot carry, are the
// strings "NaN", "Infinity" and "-Infinity" both ways.
#pragma once

#include <cmath>
#include <cstdint>
#include <initializer_list>
#include <limits>
#include <stdexcept>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "ros2_types.h"

namespace sintpeer {

// ordered_json keeps the fields in message order in what the peer prints.
using json = nlohmann::ordered_json;

// JsonError is a message that does not fit its type; what() names the path.
struct JsonError : std::runtime_error {
    using std::runtime_error::runtime_error;
};

inline std::string join(const std::string& path, const std::string& key)
{
    return path.empty() ? key : path + "." + key;
}

// Obj reads one JSON object, refusing keys outside `allowed`.
class Obj {
public:
    Obj(const json& j, const std::string& path, std::initializer_list<const char*> allowed)
        : j_(j), path_(path)
    {
        if (!j.is_object()) {
            throw JsonError((path.empty() ? std::string("message") : path) + ": want an object");
        }
        for (auto it = j.begin(); it != j.end(); ++it) {
            bool ok = false;
            for (const char* a : allowed) {
                if (it.key() == a) {
                    ok = true;
                    break;
                }
            }
            if (!ok) {
                throw JsonError(join(path, it.key()) + ": unknown field");
            }
        }
    }

    // at returns the member or nullptr when it is absent.
    const json* at(const char* key) const
    {
        auto it = j_.find(key);
        return it == j_.end() ? nullptr : &*it;
    }

    std::string path(const char* key) const { return join(path_, key); }

    void f64(const char* key, double& out) const
    {
        if (const json* v = at(key)) {
            out = read_f64(*v, path(key));
        }
    }

    void i32(const char* key, int32_t& out) const
    {
        if (const json* v = at(key)) {
            out = static_cast<int32_t>(read_int(*v, path(key), std::numeric_limits<int32_t>::min(),
                    std::numeric_limits<int32_t>::max()));
        }
    }

    void u32(const char* key, uint32_t& out) const
    {
        if (const json* v = at(key)) {
            out = static_cast<uint32_t>(read_int(*v, path(key), 0, std::numeric_limits<uint32_t>::max()));
        }
    }

    void str(const char* key, std::string& out) const
    {
        if (const json* v = at(key)) {
            if (!v->is_string()) {
                throw JsonError(path(key) + ": want a string");
            }
            out = v->get<std::string>();
        }
    }

    void boolean(const char* key, bool& out) const
    {
        if (const json* v = at(key)) {
            if (!v->is_boolean()) {
                throw JsonError(path(key) + ": want true or false");
            }
            out = v->get<bool>();
        }
    }

    void f64s(const char* key, std::vector<double>& out) const
    {
        if (const json* v = at(key)) {
            if (!v->is_array()) {
                throw JsonError(path(key) + ": want an array");
            }
            out.clear();
            for (size_t i = 0; i < v->size(); i++) {
                out.push_back(read_f64((*v)[i], path(key) + "[" + std::to_string(i) + "]"));
            }
        }
    }

    void strs(const char* key, std::vector<std::string>& out) const
    {
        if (const json* v = at(key)) {
            if (!v->is_array()) {
                throw JsonError(path(key) + ": want an array");
            }
            out.clear();
            for (size_t i = 0; i < v->size(); i++) {
                if (!(*v)[i].is_string()) {
                    throw JsonError(path(key) + "[" + std::to_string(i) + "]: want a string");
                }
                out.push_back((*v)[i].get<std::string>());
            }
        }
    }

    static double read_f64(const json& v, const std::string& path)
    {
        if (v.is_number()) {
            return v.get<double>();
        }
        if (v.is_string()) {
            const std::string s = v.get<std::string>();
            if (s == "NaN") {
                return std::numeric_limits<double>::quiet_NaN();
            }
            if (s == "Infinity") {
                return std::numeric_limits<double>::infinity();
            }
            if (s == "-Infinity") {
                return -std::numeric_limits<double>::infinity();
            }
        }
        throw JsonError(path + ": want a number (or \"NaN\", \"Infinity\", \"-Infinity\")");
    }

    static int64_t read_int(const json& v, const std::string& path, int64_t lo, int64_t hi)
    {
        if (v.is_number_unsigned()) {
            uint64_t u = v.get<uint64_t>();
            if (u > static_cast<uint64_t>(hi)) {
                throw JsonError(path + ": out of range");
            }
            return static_cast<int64_t>(u);
        }
        if (v.is_number_integer()) {
            int64_t i = v.get<int64_t>();
            if (i < lo || i > hi) {
                throw JsonError(path + ": out of range");
            }
            return i;
        }
        throw JsonError(path + ": want an integer");
    }

private:
    const json& j_;
    std::string path_;
};

// f64 renders a float64 for JSON output.
inline json f64(double v)
{
    if (std::isnan(v)) {
        return "NaN";
    }
    if (std::isinf(v)) {
        return v > 0 ? "Infinity" : "-Infinity";
    }
    return v;
}

inline json f64s(const std::vector<double>& v)
{
    json a = json::array();
    for (double d : v) {
        a.push_back(f64(d));
    }
    return a;
}

// Each message type has read(json, path, msg) and write(msg) -> json.

// ---- builtin_interfaces

inline void read(const json& j, const std::string& p, builtin_interfaces::msg::dds_::Time_& m)
{
    Obj o(j, p, {"sec", "nanosec"});
    o.i32("sec", m.sec_());
    o.u32("nanosec", m.nanosec_());
}
inline json write(const builtin_interfaces::msg::dds_::Time_& m)
{
    return json{{"sec", m.sec_()}, {"nanosec", m.nanosec_()}};
}

inline void read(const json& j, const std::string& p, builtin_interfaces::msg::dds_::Duration_& m)
{
    Obj o(j, p, {"sec", "nanosec"});
    o.i32("sec", m.sec_());
    o.u32("nanosec", m.nanosec_());
}
inline json write(const builtin_interfaces::msg::dds_::Duration_& m)
{
    return json{{"sec", m.sec_()}, {"nanosec", m.nanosec_()}};
}

// ---- std_msgs

inline void read(const json& j, const std::string& p, std_msgs::msg::dds_::Header_& m)
{
    Obj o(j, p, {"stamp", "frame_id"});
    if (const json* v = o.at("stamp")) {
        read(*v, o.path("stamp"), m.stamp_());
    }
    o.str("frame_id", m.frame_id_());
}
inline json write(const std_msgs::msg::dds_::Header_& m)
{
    return json{{"stamp", write(m.stamp_())}, {"frame_id", m.frame_id_()}};
}

inline void read(const json& j, const std::string& p, std_msgs::msg::dds_::Bool_& m)
{
    Obj o(j, p, {"data"});
    o.boolean("data", m.data_());
}
inline json write(const std_msgs::msg::dds_::Bool_& m)
{
    return json{{"data", m.data_()}};
}

inline void read(const json& j, const std::string& p, std_msgs::msg::dds_::String_& m)
{
    Obj o(j, p, {"data"});
    o.str("data", m.data_());
}
inline json write(const std_msgs::msg::dds_::String_& m)
{
    return json{{"data", m.data_()}};
}

inline void read(const json& j, const std::string& p, std_msgs::msg::dds_::MultiArrayDimension_& m)
{
    Obj o(j, p, {"label", "size", "stride"});
    o.str("label", m.label_());
    o.u32("size", m.size_());
    o.u32("stride", m.stride_());
}
inline json write(const std_msgs::msg::dds_::MultiArrayDimension_& m)
{
    return json{{"label", m.label_()}, {"size", m.size_()}, {"stride", m.stride_()}};
}

inline void read(const json& j, const std::string& p, std_msgs::msg::dds_::MultiArrayLayout_& m)
{
    Obj o(j, p, {"dim", "data_offset"});
    if (const json* v = o.at("dim")) {
        if (!v->is_array()) {
            throw JsonError(o.path("dim") + ": want an array");
        }
        m.dim_().clear();
        for (size_t i = 0; i < v->size(); i++) {
            std_msgs::msg::dds_::MultiArrayDimension_ d;
            read((*v)[i], o.path("dim") + "[" + std::to_string(i) + "]", d);
            m.dim_().push_back(d);
        }
    }
    o.u32("data_offset", m.data_offset_());
}
inline json write(const std_msgs::msg::dds_::MultiArrayLayout_& m)
{
    json dims = json::array();
    for (const auto& d : m.dim_()) {
        dims.push_back(write(d));
    }
    return json{{"dim", dims}, {"data_offset", m.data_offset_()}};
}

inline void read(const json& j, const std::string& p, std_msgs::msg::dds_::Float64MultiArray_& m)
{
    Obj o(j, p, {"layout", "data"});
    if (const json* v = o.at("layout")) {
        read(*v, o.path("layout"), m.layout_());
    }
    o.f64s("data", m.data_());
}
inline json write(const std_msgs::msg::dds_::Float64MultiArray_& m)
{
    return json{{"layout", write(m.layout_())}, {"data", f64s(m.data_())}};
}

// ---- geometry_msgs

template <class V>
inline void read_xyz(const json& j, const std::string& p, V& m)
{
    Obj o(j, p, {"x", "y", "z"});
    o.f64("x", m.x_());
    o.f64("y", m.y_());
    o.f64("z", m.z_());
}
template <class V>
inline json write_xyz(const V& m)
{
    return json{{"x", f64(m.x_())}, {"y", f64(m.y_())}, {"z", f64(m.z_())}};
}

inline void read(const json& j, const std::string& p, geometry_msgs::msg::dds_::Vector3_& m) { read_xyz(j, p, m); }
inline json write(const geometry_msgs::msg::dds_::Vector3_& m) { return write_xyz(m); }
inline void read(const json& j, const std::string& p, geometry_msgs::msg::dds_::Point_& m) { read_xyz(j, p, m); }
inline json write(const geometry_msgs::msg::dds_::Point_& m) { return write_xyz(m); }

inline void read(const json& j, const std::string& p, geometry_msgs::msg::dds_::Quaternion_& m)
{
    Obj o(j, p, {"x", "y", "z", "w"});
    m.w_(1.0); // ROS 2 default: the identity rotation
    o.f64("x", m.x_());
    o.f64("y", m.y_());
    o.f64("z", m.z_());
    o.f64("w", m.w_());
}
inline json write(const geometry_msgs::msg::dds_::Quaternion_& m)
{
    return json{{"x", f64(m.x_())}, {"y", f64(m.y_())}, {"z", f64(m.z_())}, {"w", f64(m.w_())}};
}

inline void read(const json& j, const std::string& p, geometry_msgs::msg::dds_::Twist_& m)
{
    Obj o(j, p, {"linear", "angular"});
    if (const json* v = o.at("linear")) {
        read(*v, o.path("linear"), m.linear_());
    }
    if (const json* v = o.at("angular")) {
        read(*v, o.path("angular"), m.angular_());
    }
}
inline json write(const geometry_msgs::msg::dds_::Twist_& m)
{
    return json{{"linear", write(m.linear_())}, {"angular", write(m.angular_())}};
}

inline void read(const json& j, const std::string& p, geometry_msgs::msg::dds_::TwistStamped_& m)
{
    Obj o(j, p, {"header", "twist"});
    if (const json* v = o.at("header")) {
        read(*v, o.path("header"), m.header_());
    }
    if (const json* v = o.at("twist")) {
        read(*v, o.path("twist"), m.twist_());
    }
}
inline json write(const geometry_msgs::msg::dds_::TwistStamped_& m)
{
    return json{{"header", write(m.header_())}, {"twist", write(m.twist_())}};
}

inline void read(const json& j, const std::string& p, geometry_msgs::msg::dds_::Wrench_& m)
{
    Obj o(j, p, {"force", "torque"});
    if (const json* v = o.at("force")) {
        read(*v, o.path("force"), m.force_());
    }
    if (const json* v = o.at("torque")) {
        read(*v, o.path("torque"), m.torque_());
    }
}
inline json write(const geometry_msgs::msg::dds_::Wrench_& m)
{
    return json{{"force", write(m.force_())}, {"torque", write(m.torque_())}};
}

inline void read(const json& j, const std::string& p, geometry_msgs::msg::dds_::Pose_& m)
{
    Obj o(j, p, {"position", "orientation"});
    m.orientation_().w_(1.0);
    if (const json* v = o.at("position")) {
        read(*v, o.path("position"), m.position_());
    }
    if (const json* v = o.at("orientation")) {
        read(*v, o.path("orientation"), m.orientation_());
    }
}
inline json write(const geometry_msgs::msg::dds_::Pose_& m)
{
    return json{{"position", write(m.position_())}, {"orientation", write(m.orientation_())}};
}

inline void read(const json& j, const std::string& p, geometry_msgs::msg::dds_::PoseStamped_& m)
{
    Obj o(j, p, {"header", "pose"});
    m.pose_().orientation_().w_(1.0);
    if (const json* v = o.at("header")) {
        read(*v, o.path("header"), m.header_());
    }
    if (const json* v = o.at("pose")) {
        read(*v, o.path("pose"), m.pose_());
    }
}
inline json write(const geometry_msgs::msg::dds_::PoseStamped_& m)
{
    return json{{"header", write(m.header_())}, {"pose", write(m.pose_())}};
}

// ---- trajectory_msgs

inline void read(const json& j, const std::string& p, trajectory_msgs::msg::dds_::JointTrajectoryPoint_& m)
{
    Obj o(j, p, {"positions", "velocities", "accelerations", "effort", "time_from_start"});
    o.f64s("positions", m.positions_());
    o.f64s("velocities", m.velocities_());
    o.f64s("accelerations", m.accelerations_());
    o.f64s("effort", m.effort_());
    if (const json* v = o.at("time_from_start")) {
        read(*v, o.path("time_from_start"), m.time_from_start_());
    }
}
inline json write(const trajectory_msgs::msg::dds_::JointTrajectoryPoint_& m)
{
    return json{{"positions", f64s(m.positions_())}, {"velocities", f64s(m.velocities_())},
        {"accelerations", f64s(m.accelerations_())}, {"effort", f64s(m.effort_())},
        {"time_from_start", write(m.time_from_start_())}};
}

inline void read(const json& j, const std::string& p, trajectory_msgs::msg::dds_::JointTrajectory_& m)
{
    Obj o(j, p, {"header", "joint_names", "points"});
    if (const json* v = o.at("header")) {
        read(*v, o.path("header"), m.header_());
    }
    o.strs("joint_names", m.joint_names_());
    if (const json* v = o.at("points")) {
        if (!v->is_array()) {
            throw JsonError(o.path("points") + ": want an array");
        }
        m.points_().clear();
        for (size_t i = 0; i < v->size(); i++) {
            trajectory_msgs::msg::dds_::JointTrajectoryPoint_ pt;
            read((*v)[i], o.path("points") + "[" + std::to_string(i) + "]", pt);
            m.points_().push_back(pt);
        }
    }
}
inline json write(const trajectory_msgs::msg::dds_::JointTrajectory_& m)
{
    json pts = json::array();
    for (const auto& pt : m.points_()) {
        pts.push_back(write(pt));
    }
    return json{{"header", write(m.header_())}, {"joint_names", m.joint_names_()}, {"points", pts}};
}

} // namespace sintpeer
