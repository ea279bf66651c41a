public enum PCIStoreSchema {}
