// The OPC UA test peer of bridges/opcuabridge: a node-opcua server playing
// the PLC. Address space (namespace 1): Speed (Double), Mode (String),
// Cell/Home(Double speed) -> String. Every value written and every method
// call is printed as one JSON line on stdout, so the test observes what
// reached the PLC, in order. Usage: node plc.js PORT PKI_DIR
"use strict";
const path = require("path");
const {
  OPCUAServer, Variant, DataType, StatusCodes, OPCUACertificateManager,
  MessageSecurityMode, SecurityPolicy,
} = require("node-opcua");

const port = Number(process.argv[2]);
const pki = process.argv[3] || path.join(__dirname, "pki");

function out(o) { process.stdout.write(JSON.stringify(o) + "\n"); }

(async () => {
  const serverCertificateManager = new OPCUACertificateManager({
    rootFolder: path.join(pki, "server"),
    automaticallyAcceptUnknownCertificate: true,
  });
  await serverCertificateManager.initialize();
  const server = new OPCUAServer({
    port,
    serverCertificateManager,
    securityModes: [MessageSecurityMode.None, MessageSecurityMode.SignAndEncrypt],
    securityPolicies: [SecurityPolicy.None, SecurityPolicy.Basic256Sha256],
    allowAnonymous: true,
    buildInfo: { productName: "sintgate-test-plc" },
  });
  await server.initialize();
  const ns = server.engine.addressSpace.getOwnNamespace();
  const cell = ns.addObject({ organizedBy: server.engine.addressSpace.rootFolder.objects, browseName: "Cell", nodeId: "s=Cell" });
  let speed = 0.0, mode = "stopped";
  ns.addVariable({
    componentOf: cell, browseName: "Speed", nodeId: "s=Speed", dataType: "Double", minimumSamplingInterval: 100,
    value: {
      get: () => new Variant({ dataType: DataType.Double, value: speed }),
      set: (v) => {
        if (v.dataType !== DataType.Double) return StatusCodes.BadTypeMismatch;
        speed = v.value; out({ write: "Speed", value: speed }); return StatusCodes.Good;
      },
    },
  });
  ns.addVariable({
    componentOf: cell, browseName: "Mode", nodeId: "s=Mode", dataType: "String", minimumSamplingInterval: 100,
    value: {
      get: () => new Variant({ dataType: DataType.String, value: mode }),
      set: (v) => {
        if (v.dataType !== DataType.String) return StatusCodes.BadTypeMismatch;
        mode = v.value; out({ write: "Mode", value: mode }); return StatusCodes.Good;
      },
    },
  });
  const home = ns.addMethod(cell, {
    browseName: "Home", nodeId: "s=Home",
    inputArguments: [{ name: "speed", dataType: DataType.Double }],
    outputArguments: [{ name: "result", dataType: DataType.String }],
  });
  home.bindMethod((inputs, _ctx, cb) => {
    out({ call: "Home", args: inputs.map((v) => v.value) });
    cb(null, { statusCode: StatusCodes.Good, outputArguments: [{ dataType: DataType.String, value: "homing" }] });
  });
  await server.start();
  out({ ready: true, port, cert: serverCertificateManager.rootDir });
})().catch((e) => { console.error(e); process.exit(1); });
