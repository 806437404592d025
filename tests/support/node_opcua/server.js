// A node-opcua server for Gerbang's tests: `node server.js PORT PKI_DIR`.
// Namespace urn:gerbang:node-opcua, object Loom with Speed (Double), Picks (UInt32),
// Running (Boolean), Article (String); every variable writable. Prints "READY <url>".
const { OPCUAServer } = require("node-opcua-server");
const { Variant, DataType } = require("node-opcua-variant");
const { StatusCodes } = require("node-opcua-status-code");
const { OPCUACertificateManager } = require("node-opcua-certificate-manager");

async function main() {
  const port = parseInt(process.argv[2], 10);
  const pki = process.argv[3];
  const serverCertificateManager = new OPCUACertificateManager({ rootFolder: pki, automaticallyAcceptUnknownCertificate: true });
  const server = new OPCUAServer({
    port,
    hostname: "127.0.0.1",
    resourcePath: "/gerbang",
    serverCertificateManager,
    buildInfo: { productName: "gerbang-test-node-opcua" },
  });
  await server.initialize();
  const addressSpace = server.engine.addressSpace;
  const ns = addressSpace.registerNamespace("urn:gerbang:node-opcua");
  const loom = ns.addObject({ organizedBy: addressSpace.rootFolder.objects, browseName: "Loom", nodeId: "s=Loom" });
  const values = { Speed: [DataType.Double, 312.5], Picks: [DataType.UInt32, 123456], Running: [DataType.Boolean, true], Article: [DataType.String, "Songket"] };
  for (const [name, [dataType, initial]] of Object.entries(values)) {
    let current = initial;
    ns.addVariable({
      componentOf: loom,
      nodeId: `s=Loom.${name}`,
      browseName: name,
      dataType,
      minimumSamplingInterval: 50,
      value: {
        get: () => new Variant({ dataType, value: current }),
        set: (variant) => { current = variant.value; return StatusCodes.Good; },
      },
    });
  }
  await server.start();
  console.log(`READY ${server.getEndpointUrl()}`);
  const stop = async () => { await server.shutdown(0); process.exit(0); };
  process.on("SIGTERM", stop);
  process.on("SIGINT", stop);
}
main().catch((err) => { console.error(err); process.exit(1); });
