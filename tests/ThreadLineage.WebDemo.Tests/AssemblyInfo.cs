// Each test runs the web demo, whose "render" pool lives on the process-wide Lineage.Root, and checks that no pool
// is left running after shutdown: the tests of this assembly run one at a time.
[assembly: CollectionBehavior(DisableTestParallelization = true)]
