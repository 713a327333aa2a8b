using ThreadLineage.Tests.Robustness;

namespace ThreadLineage.Tests.Pools;

/// <content>
/// Cancellation, docs/pools.md, "Cancellation": "A token that is already canceled when you call Submit gives a task
/// that is already Canceled; the work never runs, nothing is queued" — in every queue mode, without leaking a slot of
/// a bounded queue; and a token canceled while the item is queued, or at the moment of Submit.
/// </content>
public partial class ThreadPoolManagerTests
{
    public static TheoryData<SubmitKind, string> AllSubmitKindsInEveryQueueMode()
    {
        var data = new TheoryData<SubmitKind, string>();
        foreach (var kind in new[] { SubmitKind.Action, SubmitKind.Func, SubmitKind.AsyncAction, SubmitKind.AsyncFunc })
        {
            // Reject stands for every mode that reserves a slot (Wait and RunInCaller with room take the same path)
            // and shows a leaked slot at once; RunInCaller-full runs the work on the caller.
            foreach (var queue in new[] { "unbounded", "Reject", "RunInCaller-full" })
            {
                data.Add(kind, queue);
            }
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(AllSubmitKindsInEveryQueueMode))]
    public void Submit_TokenAlreadyCanceled_ReturnsCanceledTask_WorkNeverRuns_NoSlotLeaks(SubmitKind kind, string queue)
    {
        var manager = new ThreadPoolManager(TestIds.New("precanceled"));
        manager.Start(queue == "unbounded"
            ? new ThreadPoolManagerOptions { MaxWorkers = 1 }
            : new ThreadPoolManagerOptions { MaxWorkers = 1, QueueCapacity = 1, QueueFullMode = Enum.Parse<QueueFullMode>(queue.Split('-')[0]) });
        using var gate = new Gate();
        try
        {
            var blocker = gate.HoldWorker(manager);
            if (queue == "RunInCaller-full")
            {
                _ = manager.Submit(static () => { });
            }

            var ran = false;
            var canceledToken = new CancellationToken(canceled: true);
            Task? task = null;

            // Like Task.Run(work, canceledToken): a canceled task, not an exception.
            var error = Record.Exception(() => { task = SubmitAny(manager, kind, () => ran = true, cancellationToken: canceledToken); });
            var problems = new List<string>();
            if (error is not null)
            {
                problems.Add($"Submit({kind}) threw {error.GetType().Name} (\"{error.Message}\") instead of returning a canceled task");
            }
            else
            {
                // The synchronous overloads return the task already Canceled; the async ones end Canceled through their proxy.
                if (kind is SubmitKind.Action or SubmitKind.Func && task!.Status != TaskStatus.Canceled)
                {
                    problems.Add($"Submit returned a task that was {task.Status}, expected it already Canceled");
                }

                Bounded.WaitFinal(task!, "the canceled task");
                if (task!.Status != TaskStatus.Canceled)
                {
                    problems.Add($"the task ended {task.Status}, expected Canceled");
                }

                if (!SpinWait.SpinUntil(() => manager.GetStatistics().Canceled == 1, TimeSpan.FromSeconds(5)))
                {
                    problems.Add("the canceled submission was not counted in Canceled");
                }
            }

            if (ran)
            {
                problems.Add("the work ran");
            }

            // The canceled submission must hold no slot of the bounded queue: the single slot is still free.
            if (queue == "Reject")
            {
                var refused = Record.Exception(() => { _ = manager.Submit(static () => { }); });
                if (refused is ThreadPoolFullException)
                {
                    problems.Add("afterwards the empty bounded queue (capacity 1) refused work: the canceled submission leaked its slot " +
                        "(with QueueFullMode.Wait the next submission would wait for room forever)");
                }
            }

            Assert.True(problems.Count == 0, string.Join("; ", problems) + ".");

            gate.Open();
            Bounded.Wait(blocker, "the blocking item");
        }
        finally
        {
            gate.Open();
            Bounded.Stop(manager);
        }
    }

    [Theory]
    [MemberData(nameof(AllSubmitKinds))]
    public void Submit_TokenCanceledBeforeWorkStarts_TaskCanceledAndWorkNeverRuns(SubmitKind kind)
    {
        // Queued behind a blocked item when the token fires. Once work has started, observing the token is up to it
        // (docs/pools.md, "Cancellation"), so Canceled shows that the async kinds never started either.
        using var manager = new ThreadPoolManager(TestIds.New("submit-cancel-queued"));
        manager.Start(1);
        using var gate = new Gate();
        var blocker = gate.HoldWorker(manager);
        using var cancel = new CancellationTokenSource();
        var ran = false;

        var task = SubmitAny(manager, kind, () => ran = true, cancellationToken: cancel.Token);
        cancel.Cancel();
        gate.Open();
        Bounded.WaitFinal(task, "the canceled work");
        Bounded.Stop(manager);

        Assert.Equal(TaskStatus.Canceled, task.Status);
        Assert.False(ran);
        Assert.Equal(TaskStatus.RanToCompletion, blocker.Status);
        Assert.Equal(1, manager.GetStatistics().Canceled);
        Assert.Equal(1, manager.GetStatistics().Completed);
    }

    /// <summary>
    /// A token canceled by another thread at the moment of Submit: whatever the timing, Submit returns a task and
    /// never throws, the task ends final, and it is counted exactly once. Run in a child process (the exit probe):
    /// one of these races has crashed the whole process.
    /// </summary>
    [Theory]
    [InlineData("cancel-race-runincaller")]
    [InlineData("cancel-race-unbounded")]
    [InlineData("cancel-race-flow-off")]
    public void Submit_TokenCanceledConcurrently_ReturnsAFinalTask_CountedOnce_NeverThrows(string scenario)
    {
        var result = ExitProbe.Run(scenario, _output);

        Assert.True(result.Exited && result.ExitCode == 0, $"the process died or hung: {result}");
        Assert.True(result.Lines.Contains("threw 0"), $"Submit threw: {result}");
        Assert.True(result.Lines.Contains("uncounted 0"), $"canceled submissions were not counted in the statistics: {result}");
        Assert.Contains(result.Lines, static l => l.EndsWith("all final True", StringComparison.Ordinal));
    }
}
