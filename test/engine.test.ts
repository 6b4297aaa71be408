import { memoryStore } from "../src/index.js";
import { describeEngine } from "./support/engine-suite.js";

describeEngine("memory", async () => ({ store: memoryStore(), cleanup: async () => {} }));
