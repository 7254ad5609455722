# Regenerate with: /usr/bin/python3 testdata/golden/gen.py  (from bridges/ros/msgs)
# Writes defs/*.msgdef (full_text from the Debian python message classes),
# defs/md5.txt, and testdata/golden/*.bin (python serialize() output).
import io, os
import rospy
from geometry_msgs.msg import Twist, Vector3
from std_msgs.msg import String, Bool, Header
from sensor_msgs.msg import JointState
from trajectory_msgs.msg import JointTrajectory, JointTrajectoryPoint

classes = [Twist, Vector3, String, Bool, Header, JointState, JointTrajectory, JointTrajectoryPoint]
with open("defs/md5.txt", "w") as f:
    for c in classes:
        f.write("%s %s\n" % (c._type, c._md5sum))
        with open("defs/" + c._type.replace("/", "_") + ".msgdef", "w") as d:
            d.write(c._full_text)

def dump(name, m):
    b = io.BytesIO()
    m.serialize(b)
    with open("testdata/golden/" + name + ".bin", "wb") as f:
        f.write(b.getvalue())

dump("twist", Twist(linear=Vector3(1.5, -2.25, 0.0), angular=Vector3(0.0, 0.0, 0.75)))
dump("twist_zero", Twist())
dump("string", String(data="hello ROS \u00e9"))
dump("string_empty", String(data=""))
dump("bool_true", Bool(data=True))
dump("bool_false", Bool(data=False))
hdr = Header(seq=42, stamp=rospy.Time(1700000000, 123456789), frame_id="base_link")
dump("header", hdr)
dump("joint_state", JointState(header=hdr, name=["j1", "j2"], position=[0.1, -0.2], velocity=[1.0, 2.0], effort=[]))
dump("joint_trajectory", JointTrajectory(header=hdr, joint_names=["shoulder", "elbow"], points=[
    JointTrajectoryPoint(positions=[0.0, 1.0], velocities=[0.5, 0.5], accelerations=[], effort=[], time_from_start=rospy.Duration(1, 500000000)),
    JointTrajectoryPoint(positions=[0.25, 1.25], velocities=[], accelerations=[], effort=[3.0], time_from_start=rospy.Duration(-1, 250)),
]))
dump("joint_trajectory_empty", JointTrajectory())
