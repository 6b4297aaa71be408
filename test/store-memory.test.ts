import { memoryStore } from "../src/store/memory/memory-store.js";
import { describeStoreContract } from "./support/store-contract.js";

describeStoreContract("memory", async () => {
  const store = memoryStore();
  await store.migrate();
  return { store, cleanup: () => store.close() };
});
