// A node-opcua server for bench/opcua_subscriptions.py: `node opcua_node_server.js PORT ITEMS PERIOD_S PKI`.
// ITEMS Double variables nsu=urn:gerbang:bench;s=v0..., each changed every PERIOD_S with its
// source timestamp. One asyncua (Python) server cannot offer more than about 10,000 changes a
// second; this one offers 50,000. Prints "READY", then "RATE <changes/s>" every 50 rounds.
const { OPCUAServer } = require("node-opcua-server");
const { DataType } = require("node-opcua-variant");
const { StatusCodes } = require("node-opcua-status-code");
const { OPCUACertificateManager } = require("node-opcua-certificate-manager");

async function main() {
  const [port, items] = [parseInt(process.argv[2], 10), parseInt(process.argv[3], 10)];
  const period = parseFloat(process.argv[4]) * 1000;
  const serverCertificateManager = new OPCUACertificateManager({ rootFolder: process.argv[5], automaticallyAcceptUnknownCertificate: true });
  const server = new OPCUAServer({
    port,
    hostname: "127.0.0.1",
    resourcePath: "/bench",
    serverCertificateManager,
    maxConnections: 4,
    serverCapabilities: { maxMonitoredItemsPerSubscription: 100000, operationLimits: { maxMonitoredItemsPerCall: 100000, maxNodesPerRead: 100000 } },
  });
  await server.initialize();
  const addressSpace = server.engine.addressSpace;
  const ns = addressSpace.registerNamespace("urn:gerbang:bench");
  const bench = ns.addObject({ organizedBy: addressSpace.rootFolder.objects, browseName: "Bench", nodeId: "s=Bench" });
  const variables = [];
  for (let i = 0; i < items; i++) {
    variables.push(ns.addVariable({ componentOf: bench, nodeId: `s=v${i}`, browseName: `v${i}`, dataType: "Double", minimumSamplingInterval: 0 }));
  }
  await server.start();
  console.log("READY");
  let tick = 0;
  const started = Date.now();
  const round = () => {
    tick += 1;
    const now = new Date();
    for (let i = 0; i < items; i++) {
      variables[i].setValueFromSource({ dataType: DataType.Double, value: tick + i }, StatusCodes.Good, now);
    }
    if (tick % 50 === 0) console.log(`RATE ${Math.round((tick * items) / ((Date.now() - started) / 1000))}`);
    setTimeout(round, Math.max(0, started + (tick + 1) * period - Date.now()));
  };
  round();
  const stop = async () => { await server.shutdown(0); process.exit(0); };
  process.on("SIGTERM", stop);
  process.on("SIGINT", stop);
}
process.stdout.on("error", () => {}); // the benchmark may stop reading first
main().catch((err) => { console.error(err); process.exit(1); });
