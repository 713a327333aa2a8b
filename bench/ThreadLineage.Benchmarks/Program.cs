using BenchmarkDotNet.Running;
using ThreadLineage.Benchmarks.Goals;
using ThreadLineage.Benchmarks.Probes;

// Probe modes measure what BenchmarkDotNet cannot (percentiles, idle CPU, whole-process allocation);
// anything else goes to BenchmarkDotNet (--filter, --job, --list ...).
switch (args.FirstOrDefault())
{
    case "latency":
        LatencyProbe.Run(args[1..]);
        break;
    case "idle-cpu":
        IdleCpuProbe.Run();
        break;
    case "alloc":
        AllocationProbe.Run(args[1..]);
        break;
    case "profile":
        ProfileProbe.Run(args[1..]);
        break;
    case "per-request":
        PerRequestProbe.Run(args[1..]);
        break;
    case "many-borrowers":
        ManyBorrowersProbe.Run(args[1..]);
        break;
    case "web-load":
        await WebLoadProbe.RunAsync(args[1..]);
        break;
    case "goals":
        await GoalsRun.RunAsync(args[1..]);
        break;
    default:
        BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
        break;
}
